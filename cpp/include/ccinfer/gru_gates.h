#pragma once
/// The GRU step's gate maths over arrays, by the active ISA's kernels (kernels/gru_gates): the
/// entry points the tests compare with the NumPy reference and across ISAs. The maths of one
/// unit are those of ccinfer/gate_math.h, bit for bit on every ISA.

#include <cstdint>

namespace ccinfer {

/// y[i] = tanh_gate(x[i]).
void gate_tanh(const float* x, int64_t n, float* y);

/// CLIPTANH in place (z[i] = tanh_gate(z[i]) where z[i] > 0, else 0); the indices of the
/// positive entries into units (when not null); returns their number.
int64_t gate_clip_tanh(float* z, int64_t n, int32_t* units);

/// hn[i] = gru_cond_unit(gx + 2 i, gh + 2 i, z[i], h[i]) for i = units[a] (a < n), or i < n when
/// units is null, with bx / bh added to gx / gh when not null.
void gate_cond_units(const float* gx, const float* bx, const float* gh, const float* bh,
                     const float* z, const float* h, const int32_t* units, int64_t n, float* hn);

/// hn[i] = gru_dense_unit(gx + 3 i, gh + 3 i, h[i]) for i < n, biases as above.
void gate_dense_units(const float* gx, const float* bx, const float* gh, const float* bh,
                      const float* h, int64_t n, float* hn);

}  // namespace ccinfer
