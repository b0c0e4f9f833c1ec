#pragma once
// The vector layer of width 1, and the interface every layer (simd/avx2.h, simd/avx512.h)
// offers, so that a kernel body is written once over it:
//   V, kWidth                      the vector type and its float lanes
//   zero, set1, load, store        whole vectors (load of uint16_t*: binary16 widened exactly)
//   Mask, first(n), any            a partial vector's lanes: the first n
//   load(mask, p), store(mask, p)  partial loads (other lanes zero, no memory touched) / stores
//   fma, add, mul, max             lane-wise; fma rounds once
//   reduce                         the sum of the lanes in the layer's fixed order
//   prefetch, prefetch_l2          a hint into L1 / L2 (no-ops here)
// Its fma is std::fma, one rounding like a SIMD lane: the SIMD kernels' scalar tails use it so
// that a tail element rounds as the vector lanes do. (The scalar reference kernels multiply
// and add separately: they are written out in the scalar.cpp files, not over this layer.)
#include <cmath>
#include <cstdint>

#include "ccinfer/half.h"

namespace ccinfer::kernels::simd {

struct Scalar {
    using V = float;
    using Mask = bool;
    static constexpr int kWidth = 1;

    static V zero() { return 0.0f; }
    static V set1(float v) { return v; }
    static V load(const float* p) { return *p; }
    static V load(const uint16_t* p) { return widen(*p); }
    static void store(float* p, V v) { *p = v; }

    static Mask first(int64_t n) { return n > 0; }
    static bool any(Mask m) { return m; }
    template <typename T>
    static V load(Mask m, const T* p) {
        return m ? load(p) : 0.0f;
    }
    static void store(Mask m, float* p, V v) {
        if (m) *p = v;
    }

    static V fma(V a, V b, V c) { return std::fma(a, b, c); }
    static V add(V a, V b) { return a + b; }
    static V mul(V a, V b) { return a * b; }
    static V max(V a, V b) { return a > b ? a : b; }
    static float reduce(V v) { return v; }

    static void prefetch(const void*) {}
    static void prefetch_l2(const void*) {}
};

}  // namespace ccinfer::kernels::simd
