#pragma once
// The AVX2+FMA+F16C vector layer (8 float lanes); simd/scalar.h describes the interface. Only
// for files compiled with the AVX2 flags (the avx2.cpp kernels, cmake/IsaFlags.cmake).
#include <immintrin.h>

#include <cstdint>

namespace ccinfer::kernels::simd {

struct Avx2 {
    using V = __m256;
    /// Lanes of a partial vector: the first n are set. AVX2 has masked loads of 32-bit lanes
    /// only, so the count is kept too (a binary16 tail is copied, n elements).
    struct Mask {
        __m256i lanes;
        int64_t n;
    };
    static constexpr int kWidth = 8;

    static V zero() { return _mm256_setzero_ps(); }
    static V set1(float v) { return _mm256_set1_ps(v); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    /// binary16 weights widened exactly (F16C).
    static V load(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }

    /// The first min(max(n, 0), 8) lanes.
    static Mask first(int64_t n) {
        const int32_t c = n >= 8 ? 8 : n <= 0 ? 0 : static_cast<int32_t>(n);
        return {_mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                c};
    }
    static bool any(const Mask& m) { return m.n != 0; }
    /// Masked loads: lanes outside m are zero and touch no memory.
    static V load(const Mask& m, const float* p) { return _mm256_maskload_ps(p, m.lanes); }
    static V load(const Mask& m, const uint16_t* p) {
        alignas(16) uint16_t buf[8] = {};
        for (int64_t j = 0; j < m.n; ++j) buf[j] = p[j];
        return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
    }
    /// Stores the lanes of m only.
    static void store(const Mask& m, float* p, V v) { _mm256_maskstore_ps(p, m.lanes, v); }

    /// a * b + c, rounded once.
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    /// The sum of the lanes: the two halves, then pairs, then the last two.
    static float reduce(V v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }

    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V div(V a, V b) { return _mm256_div_ps(a, b); }
    /// min(a, b) is a < b ? a : b, max(a, b) is a > b ? a : b: b when either is NaN.
    static V min(V a, V b) { return _mm256_min_ps(a, b); }
    /// Bitwise, on the lanes' bit patterns; andnot(a, b) is ~a & b.
    static V bit_and(V a, V b) { return _mm256_and_ps(a, b); }
    static V bit_andnot(V a, V b) { return _mm256_andnot_ps(a, b); }
    static V bit_or(V a, V b) { return _mm256_or_ps(a, b); }
    static V bit_xor(V a, V b) { return _mm256_xor_ps(a, b); }
    /// Round to the nearest integer, ties to even.
    static V round(V v) {
        return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    /// 2^n for integral n in [-126, 127], built from the exponent bits.
    static V pow2(V n) {
        const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
    }

    /// The lanes where a comparison holds (all bits set there).
    using Cmp = __m256;
    static Cmp lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }  ///< false for NaN
    static Cmp gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }  ///< false for NaN
    static Cmp is_nan(V a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
    /// c ? a : b lane by lane.
    static V select(Cmp c, V a, V b) { return _mm256_blendv_ps(b, a, c); }
    /// Bit i set where lane i of c holds.
    static unsigned bits(Cmp c) { return static_cast<unsigned>(_mm256_movemask_ps(c)); }

    static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
    static void prefetch_l2(const void* p) {
        _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1);
    }
};

}  // namespace ccinfer::kernels::simd
