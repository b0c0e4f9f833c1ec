// AVX2 gate maths, 8 units at a time: the operations of ccinfer/gate_math.h in the same order
// on 8 lanes (this file is compiled with -ffp-contract=off so that no multiply and add is
// fused that the reference keeps apart), so every unit gets the reference's bits; the last
// n % 8 units go to the scalar kernel. Exact IEEE division, no reciprocal estimates.
#include <immintrin.h>

#include "ccinfer/gate_math.h"
#include "gru_gates.h"

namespace ccinfer::kernels::avx2 {
namespace {

using namespace gate_constants;

inline __m256 splat(float v) { return _mm256_set1_ps(v); }
inline __m256 sign_bits() { return _mm256_set1_ps(-0.0f); }

struct VExpParts {
    __m256 em1_r;
    __m256 scale;
};

inline VExpParts exp_parts(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, splat(kLog2e)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, splat(-kLn2Hi), x);
    r = _mm256_fmadd_ps(n, splat(-kLn2Lo), r);
    __m256 p = splat(kExpP[0]);
    for (int i = 1; i < 6; ++i) p = _mm256_fmadd_ps(p, r, splat(kExpP[i]));
    const __m256i bits =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return {_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_castsi256_ps(bits)};
}

inline __m256 exp_gate(__m256 x) {
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    // max(lo, x) is lo > x ? lo : x, min(hi, x) is hi < x ? hi : x: the reference's clamps.
    const __m256 c = _mm256_min_ps(splat(kExpHi), _mm256_max_ps(splat(kExpLo), x));
    const VExpParts e = exp_parts(c);
    const __m256 y = _mm256_mul_ps(_mm256_add_ps(e.em1_r, splat(1.0f)), e.scale);
    return _mm256_blendv_ps(y, x, nan);
}

inline __m256 sigmoid(__m256 u) {
    const __m256 e = exp_gate(_mm256_xor_ps(u, sign_bits()));
    return _mm256_div_ps(splat(1.0f), _mm256_add_ps(splat(1.0f), e));
}

inline __m256 tanh_gate(__m256 x) {
    const __m256 sign = _mm256_and_ps(x, sign_bits());
    const __m256 a = _mm256_andnot_ps(sign_bits(), x);
    // |x| < 0.25: the series.
    const __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_sub_ps(_mm256_mul_ps(splat(kT9), x2), splat(kT7));
    p = _mm256_add_ps(_mm256_mul_ps(p, x2), splat(kT5));
    p = _mm256_sub_ps(_mm256_mul_ps(p, x2), splat(kT3));
    p = _mm256_mul_ps(p, x2);
    const __m256 series = _mm256_mul_ps(x, _mm256_add_ps(splat(1.0f), p));
    // 0.25 <= |x| < 9: (e - 1) / (e + 1), e = exp(2|x|) (other lanes compute garbage, unused).
    const VExpParts e = exp_parts(_mm256_mul_ps(splat(2.0f), a));
    const __m256 em1 = _mm256_fmadd_ps(e.scale, e.em1_r, _mm256_sub_ps(e.scale, splat(1.0f)));
    const __m256 mid = _mm256_or_ps(_mm256_div_ps(em1, _mm256_add_ps(em1, splat(2.0f))), sign);
    // |x| >= 9: +-1; NaN: itself.
    const __m256 big =
        _mm256_blendv_ps(_mm256_or_ps(splat(1.0f), sign), x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
    const __m256 out = _mm256_blendv_ps(big, mid, _mm256_cmp_ps(a, splat(kTanhOne), _CMP_LT_OQ));
    return _mm256_blendv_ps(out, series, _mm256_cmp_ps(a, splat(kTanhSeries), _CMP_LT_OQ));
}

// Even and odd entries of p[0:16] (gates r and n of 8 units), in unit order.
inline void split_pairs(__m256 lo, __m256 hi, __m256& even, __m256& odd) {
    // shuffle_ps works per 128-bit lane: units 0 1 4 5 | 2 3 6 7; the 64-bit permute sorts them.
    const __m256 e = _mm256_shuffle_ps(lo, hi, 0x88);
    const __m256 o = _mm256_shuffle_ps(lo, hi, 0xDD);
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
}

// Gate pair (r, n) of 8 consecutive units from p (bias b added when given).
inline void load_pairs(const float* p, const float* b, __m256& r, __m256& n) {
    __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    if (b) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(b));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(b + 8));
    }
    split_pairs(lo, hi, r, n);
}

// Gate g of the 8 units idx (stride G floats per unit) from p, bias b added when given.
template <int G>
inline __m256 gather_gate(const float* p, const float* b, __m256i idx, int g) {
    const __m256i at =
        _mm256_add_epi32(_mm256_mullo_epi32(idx, _mm256_set1_epi32(G)), _mm256_set1_epi32(g));
    const __m256 v = _mm256_i32gather_ps(p, at, 4);
    return b ? _mm256_add_ps(v, _mm256_i32gather_ps(b, at, 4)) : v;
}

inline __m256 cond_unit(__m256 xr, __m256 xn, __m256 yr, __m256 yn, __m256 z, __m256 h) {
    const __m256 r = sigmoid(_mm256_add_ps(xr, yr));
    const __m256 n = tanh_gate(_mm256_add_ps(xn, _mm256_mul_ps(r, yn)));
    return _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(splat(1.0f), z), h), _mm256_mul_ps(z, n));
}

void gru_cond_units_impl(const float* gx, const float* bx, const float* gh, const float* bh,
                         const float* z, const float* h, const int32_t* units, int64_t n,
                         float* hn) {
    int64_t a = 0;
    if (units) {
        for (; a + 8 <= n; a += 8) {
            const __m256i idx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(units + a));
            const __m256 out =
                cond_unit(gather_gate<2>(gx, bx, idx, 0), gather_gate<2>(gx, bx, idx, 1),
                          gather_gate<2>(gh, bh, idx, 0), gather_gate<2>(gh, bh, idx, 1),
                          _mm256_i32gather_ps(z, idx, 4), _mm256_i32gather_ps(h, idx, 4));
            alignas(32) float o[8];
            _mm256_store_ps(o, out);
            for (int k = 0; k < 8; ++k) hn[units[a + k]] = o[k];
        }
        scalar::gru_cond_units(gx, bx, gh, bh, z, h, units + a, n - a, hn);
        return;
    }
    for (; a + 8 <= n; a += 8) {
        __m256 xr, xn, yr, yn;
        load_pairs(gx + 2 * a, bx ? bx + 2 * a : nullptr, xr, xn);
        load_pairs(gh + 2 * a, bh ? bh + 2 * a : nullptr, yr, yn);
        _mm256_storeu_ps(hn + a,
                         cond_unit(xr, xn, yr, yn, _mm256_loadu_ps(z + a), _mm256_loadu_ps(h + a)));
    }
    scalar::gru_cond_units(gx + 2 * a, bx ? bx + 2 * a : nullptr, gh + 2 * a,
                           bh ? bh + 2 * a : nullptr, z + a, h + a, nullptr, n - a, hn + a);
}

void gru_dense_units_impl(const float* gx, const float* bx, const float* gh, const float* bh,
                          const float* h, int64_t n, float* hn) {
    const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i idx = _mm256_add_epi32(step, _mm256_set1_epi32(static_cast<int32_t>(i)));
        const __m256 r =
            sigmoid(_mm256_add_ps(gather_gate<3>(gx, bx, idx, 0), gather_gate<3>(gh, bh, idx, 0)));
        const __m256 z =
            sigmoid(_mm256_add_ps(gather_gate<3>(gx, bx, idx, 1), gather_gate<3>(gh, bh, idx, 1)));
        const __m256 c = tanh_gate(_mm256_add_ps(gather_gate<3>(gx, bx, idx, 2),
                                                 _mm256_mul_ps(r, gather_gate<3>(gh, bh, idx, 2))));
        const __m256 out = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(splat(1.0f), z), c),
                                         _mm256_mul_ps(z, _mm256_loadu_ps(h + i)));
        _mm256_storeu_ps(hn + i, out);
    }
    scalar::gru_dense_units(gx + 3 * i, bx ? bx + 3 * i : nullptr, gh + 3 * i,
                            bh ? bh + 3 * i : nullptr, h + i, n - i, hn + i);
}

int64_t clip_tanh_impl(float* z, int64_t n, int32_t* units) {
    int64_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 u = _mm256_loadu_ps(z + i);
        const __m256 on = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GT_OQ);  // NaN: off
        _mm256_storeu_ps(z + i, _mm256_and_ps(on, tanh_gate(u)));
        unsigned bits = static_cast<unsigned>(_mm256_movemask_ps(on));
        if (units)
            for (; bits; bits &= bits - 1)
                units[count++] = static_cast<int32_t>(i + __builtin_ctz(bits));
        else
            count += __builtin_popcount(bits);
    }
    const int64_t rest = scalar::clip_tanh(z + i, n - i, units ? units + count : nullptr);
    if (units)
        for (int64_t k = count; k < count + rest; ++k) units[k] += static_cast<int32_t>(i);
    return count + rest;
}

void tanh_gate_array_impl(const float* x, int64_t n, float* y) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, tanh_gate(_mm256_loadu_ps(x + i)));
    scalar::tanh_gate_array(x + i, n - i, y + i);
}

}  // namespace

const GruCondUnitsFn gru_cond_units = gru_cond_units_impl;
const GruDenseUnitsFn gru_dense_units = gru_dense_units_impl;
const ClipTanhFn clip_tanh = clip_tanh_impl;
const TanhGateArrayFn tanh_gate_array = tanh_gate_array_impl;

}  // namespace ccinfer::kernels::avx2
