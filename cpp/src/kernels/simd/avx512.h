#pragma once
// The AVX-512 vector layer (16 float lanes): what a kernel body written over a vector layer
// (simd/scalar.h describes the interface) needs, nothing more. Only for files compiled with
// the AVX-512 flags (the avx512.cpp kernels, cmake/IsaFlags.cmake).
#include <immintrin.h>

#include <cstdint>

namespace ccinfer::kernels::simd {

struct Avx512 {
    using V = __m512;
    /// Lanes of a partial vector: the first n are set.
    using Mask = __mmask16;
    static constexpr int kWidth = 16;

    static V zero() { return _mm512_setzero_ps(); }
    static V set1(float v) { return _mm512_set1_ps(v); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    /// binary16 weights widened exactly (F16C).
    static V load(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }

    /// The first min(max(n, 0), 16) lanes.
    static Mask first(int64_t n) {
        return n >= 16 ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1u);
    }
    static bool any(Mask m) { return m != 0; }
    /// Masked loads: lanes outside m are zero and touch no memory.
    static V load(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
    static V load(Mask m, const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    }
    /// Stores the lanes of m only.
    static void store(Mask m, float* p, V v) { _mm512_mask_storeu_ps(p, m, v); }

    /// a * b + c, rounded once.
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V max(V a, V b) { return _mm512_max_ps(a, b); }
    /// The sum of the lanes (the compiler's fixed tree: halves, then quarters, ...).
    static float reduce(V v) { return _mm512_reduce_add_ps(v); }

    static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
    static void prefetch_l2(const void* p) {
        _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1);
    }
};

}  // namespace ccinfer::kernels::simd
