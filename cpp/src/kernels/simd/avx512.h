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

    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V div(V a, V b) { return _mm512_div_ps(a, b); }
    /// min(a, b) is a < b ? a : b, max(a, b) is a > b ? a : b: b when either is NaN.
    static V min(V a, V b) { return _mm512_min_ps(a, b); }
    /// Bitwise, on the lanes' bit patterns; andnot(a, b) is ~a & b.
    static V bit_and(V a, V b) { return _mm512_and_ps(a, b); }
    static V bit_andnot(V a, V b) { return _mm512_andnot_ps(a, b); }
    static V bit_or(V a, V b) { return _mm512_or_ps(a, b); }
    static V bit_xor(V a, V b) { return _mm512_xor_ps(a, b); }
    /// Round to the nearest integer, ties to even.
    static V round(V v) {
        return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    /// 2^n for integral n in [-126, 127], built from the exponent bits.
    static V pow2(V n) {
        const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
        return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
    }

    /// The lanes where a comparison holds.
    using Cmp = __mmask16;
    static Cmp lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }  ///< false for NaN
    static Cmp gt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }  ///< false for NaN
    static Cmp is_nan(V a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
    /// c ? a : b lane by lane.
    static V select(Cmp c, V a, V b) { return _mm512_mask_blend_ps(c, b, a); }
    /// Bit i set where lane i of c holds.
    static unsigned bits(Cmp c) { return c; }

    static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
    static void prefetch_l2(const void* p) {
        _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1);
    }
};

}  // namespace ccinfer::kernels::simd
