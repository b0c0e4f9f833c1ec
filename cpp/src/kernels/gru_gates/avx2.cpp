// AVX2 gate maths, 8 units at a time: the body of gru_gates.h, with AVX2's own loads.
#include "../simd/avx2.h"

#include "gru_gates.h"

namespace ccinfer::kernels {

/// AVX2 reads interleaved pairs with in-lane shuffles and a 64-bit permute, triples and
/// listed units with gathers (it has no two-source lane permute), and stores listed units
/// one by one (it has no scatter).
template <>
struct GateLoads<simd::Avx2> {
    using V = __m256;
    using Idx = __m256i;

    static void pairs(const float* p, const float* b, V& r, V& n) {
        V lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
        if (b) {
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(b));
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(b + 8));
        }
        // shuffle_ps works per 128-bit lane: units 0 1 4 5 | 2 3 6 7; the permute sorts them.
        const V e = _mm256_shuffle_ps(lo, hi, 0x88);
        const V o = _mm256_shuffle_ps(lo, hi, 0xDD);
        r = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
        n = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
    }

    static void triples(const float* p, const float* b, V& r, V& z, V& n) {
        const Idx idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        r = gather<3>(p, b, idx, 0);
        z = gather<3>(p, b, idx, 1);
        n = gather<3>(p, b, idx, 2);
    }

    static Idx index(const int32_t* units) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(units));
    }
    template <int G>
    static V gather(const float* p, const float* b, Idx idx, int g) {
        const Idx at =
            _mm256_add_epi32(_mm256_mullo_epi32(idx, _mm256_set1_epi32(G)), _mm256_set1_epi32(g));
        const V v = _mm256_i32gather_ps(p, at, 4);
        return b ? _mm256_add_ps(v, _mm256_i32gather_ps(b, at, 4)) : v;
    }
    static V gather(const float* p, Idx idx) { return _mm256_i32gather_ps(p, idx, 4); }
    static void scatter(float* p, Idx idx, V v) {
        alignas(32) float o[8];
        alignas(32) int32_t at[8];
        _mm256_store_ps(o, v);
        _mm256_store_si256(reinterpret_cast<__m256i*>(at), idx);
        for (int k = 0; k < 8; ++k) p[at[k]] = o[k];
    }
};

namespace avx2 {
const GruCondUnitsFn gru_cond_units = kernels::gru_cond_units<simd::Avx2>;
const GruDenseUnitsFn gru_dense_units = kernels::gru_dense_units<simd::Avx2>;
const ClipTanhFn clip_tanh = kernels::clip_tanh<simd::Avx2>;
const TanhGateArrayFn tanh_gate_array = kernels::tanh_gate_array<simd::Avx2>;
}  // namespace avx2

}  // namespace ccinfer::kernels
