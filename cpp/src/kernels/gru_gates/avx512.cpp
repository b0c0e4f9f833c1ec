// AVX-512 gate maths, 16 units at a time: the body of gru_gates.h, with AVX-512's own loads.
#include "../simd/avx512.h"

#include "gru_gates.h"

namespace ccinfer::kernels {

/// AVX-512 reads interleaved pairs and triples with two-source lane permutes, gather-free
/// (the same values as gathers, so the same results; the dense batch step's gate maths ran
/// about twice as long with gathers), and listed units with gathers and a scatter.
template <>
struct GateLoads<simd::Avx512> {
    using V = __m512;
    using Idx = __m512i;

    static void pairs(const float* p, const float* b, V& r, V& n) {
        V lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16);
        if (b) {
            lo = _mm512_add_ps(lo, _mm512_loadu_ps(b));
            hi = _mm512_add_ps(hi, _mm512_loadu_ps(b + 16));
        }
        const Idx even =
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        r = _mm512_permutex2var_ps(lo, even, hi);
        n = _mm512_permutex2var_ps(lo, _mm512_add_epi32(even, _mm512_set1_epi32(1)), hi);
    }

    /// Three loads and two permutes per gate (48 floats: 16 units of 3).
    static void triples(const float* p, const float* b, V& r, V& z, V& n) {
        V a0 = _mm512_loadu_ps(p), a1 = _mm512_loadu_ps(p + 16), a2 = _mm512_loadu_ps(p + 32);
        if (b) {
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(b));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(b + 16));
            a2 = _mm512_add_ps(a2, _mm512_loadu_ps(b + 32));
        }
        const Idx three_i =
            _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45);
        const auto gate = [&](int g) {
            // Lane i takes element 3 i + g: from a0:a1 below 32 (permutex2var reads 5 index
            // bits), else from a2 (permutexvar reads 4: 3 i + g - 32).
            const Idx at = _mm512_add_epi32(three_i, _mm512_set1_epi32(g));
            const V low = _mm512_permutex2var_ps(a0, at, a1);
            return _mm512_mask_permutexvar_ps(
                low, _mm512_cmpge_epi32_mask(at, _mm512_set1_epi32(32)), at, a2);
        };
        r = gate(0);
        z = gate(1);
        n = gate(2);
    }

    static Idx index(const int32_t* units) { return _mm512_loadu_si512(units); }
    template <int G>
    static V gather(const float* p, const float* b, Idx idx, int g) {
        const Idx at =
            _mm512_add_epi32(_mm512_mullo_epi32(idx, _mm512_set1_epi32(G)), _mm512_set1_epi32(g));
        const V v = _mm512_i32gather_ps(at, p, 4);
        return b ? _mm512_add_ps(v, _mm512_i32gather_ps(at, b, 4)) : v;
    }
    static V gather(const float* p, Idx idx) { return _mm512_i32gather_ps(idx, p, 4); }
    static void scatter(float* p, Idx idx, V v) { _mm512_i32scatter_ps(p, idx, v, 4); }
};

namespace avx512 {
const GruCondUnitsFn gru_cond_units = kernels::gru_cond_units<simd::Avx512>;
const GruDenseUnitsFn gru_dense_units = kernels::gru_dense_units<simd::Avx512>;
const ClipTanhFn clip_tanh = kernels::clip_tanh<simd::Avx512>;
const TanhGateArrayFn tanh_gate_array = kernels::tanh_gate_array<simd::Avx512>;
}  // namespace avx512

}  // namespace ccinfer::kernels
