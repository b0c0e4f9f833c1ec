#pragma once
// The vector layer of width 1, and the interface every layer (simd/avx2.h, simd/avx512.h)
// offers, so that a kernel body is written once over it:
//   V, kWidth                      the vector type and its float lanes
//   zero, set1, load, store        whole vectors (load of uint16_t*: binary16 widened exactly)
//   Mask, first(n), any            a partial vector's lanes: the first n
//   load(mask, p), store(mask, p)  partial loads (other lanes zero, no memory touched) / stores
//   fma, add, mul, max             lane-wise; fma rounds once
//   sub, div, min                  lane-wise (min and max return b when either is NaN)
//   bit_and, bit_andnot, bit_or,   on the lanes' bit patterns (andnot(a, b) = ~a & b)
//   bit_xor
//   round, pow2                    to the nearest integer (ties to even); 2^n of integral n
//   Cmp, lt, gt, is_nan, select,   comparisons (false for NaN), c ? a : b lane-wise, and the
//   bits                           lanes that hold as bits
//   reduce                         the sum of the lanes in the layer's fixed order
//   prefetch, prefetch_l2          a hint into L1 / L2 (no-ops here)
// Its fma is std::fma, one rounding like a SIMD lane: the SIMD kernels' scalar tails use it so
// that a tail element rounds as the vector lanes do. (The scalar reference kernels multiply
// and add separately: they are written out in the scalar.cpp files, not over this layer.)
#include <cmath>
#include <cstdint>
#include <cstring>

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
    static V sub(V a, V b) { return a - b; }
    static V div(V a, V b) { return a / b; }
    static V min(V a, V b) { return a < b ? a : b; }
    static V bit_and(V a, V b) { return from_bits(bits_of(a) & bits_of(b)); }
    static V bit_andnot(V a, V b) { return from_bits(~bits_of(a) & bits_of(b)); }
    static V bit_or(V a, V b) { return from_bits(bits_of(a) | bits_of(b)); }
    static V bit_xor(V a, V b) { return from_bits(bits_of(a) ^ bits_of(b)); }
    static V round(V v) { return std::nearbyint(v); }
    static V pow2(V n) {
        return from_bits(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);
    }

    using Cmp = bool;
    static Cmp lt(V a, V b) { return a < b; }
    static Cmp gt(V a, V b) { return a > b; }
    static Cmp is_nan(V a) { return a != a; }
    static V select(Cmp c, V a, V b) { return c ? a : b; }
    static unsigned bits(Cmp c) { return c ? 1u : 0u; }

    static float reduce(V v) { return v; }

    static void prefetch(const void*) {}
    static void prefetch_l2(const void*) {}

  private:
    static uint32_t bits_of(float v) {
        uint32_t u;
        std::memcpy(&u, &v, sizeof u);
        return u;
    }
    static float from_bits(uint32_t u) {
        float v;
        std::memcpy(&v, &u, sizeof v);
        return v;
    }
};

}  // namespace ccinfer::kernels::simd
