#pragma once
/// Seeded sampling of a token from logits: the one sampler behind Python's
/// GRUStack.generate(..., temperature=T, seed=S) and the C API's ccinfer_sample, so that C
/// reproduces Python's generated text bit for bit.
///
/// The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): a 64-bit state that starts as the seed and advances by the
/// constant 0x9E3779B97F4A7C15 per draw; each draw is the state run through a fixed 64-bit
/// mixing function. A draw becomes a uniform double in [0, 1) from its top 53 bits. It is
/// small, has no bad seeds, and is the same on every platform (integer arithmetic only).
///
/// A token is drawn from softmax(logits / T): in double precision, z_i = logits_i / T,
/// w_i = exp(z_i - max z), and the token is the first i whose running sum w_0 + ... + w_i
/// exceeds u * sum(w), for one uniform u. T == 0 takes the first maximum (numpy's argmax)
/// and draws nothing.

#include <cstdint>

namespace ccinfer {

/// The next uniform double in [0, 1) of a SplitMix64 generator; advances *state.
double splitmix64_uniform(uint64_t* state);

/// A token id in [0, n) drawn from softmax(logits / temperature) (see above). Throws
/// std::invalid_argument unless n >= 1, temperature is finite and >= 0 and every logit is
/// finite.
int64_t sample_token(const float* logits, int64_t n, double temperature, uint64_t* state);

}  // namespace ccinfer
