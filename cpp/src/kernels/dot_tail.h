#pragma once
// How a dot-product kernel finishes the k % width elements past its last whole vector. Part
// of each ISA's bit contract, so a named choice of the instantiation, not a copy:
//  - kMasked: one masked vector step into the accumulators, before the horizontal sum
//    (AVX-512: masked loads are cheap for float32 and binary16 alike);
//  - kScalar: after the horizontal sum, one fused multiply-add per element (AVX2 has no masked
//    16-bit load; std::fma rounds as the vector lanes do, for both weight types alike).
#include <cstdint>

#include "simd/scalar.h"

namespace ccinfer::kernels {

enum class DotTail { kMasked, kScalar };

/// s + sum of w[j] x[j] for j in [j0, k), one fused step per element, in order.
template <typename W>
inline float dot_tail(const W* w, const float* x, int64_t j0, int64_t k, float s) {
    for (int64_t j = j0; j < k; ++j) s = simd::Scalar::fma(simd::Scalar::load(w + j), x[j], s);
    return s;
}

}  // namespace ccinfer::kernels
