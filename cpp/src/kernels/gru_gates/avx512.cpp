// AVX-512 gate maths, 16 units at a time: the AVX2 kernel's operations on 16 lanes (the
// operations of ccinfer/gate_math.h in the same order; compiled with -ffp-contract=off), so
// every unit gets the scalar reference's bits; the last n % 16 units go to the scalar kernel.
// Exact IEEE division, no reciprocal estimates.
#include <immintrin.h>

#include "ccinfer/gate_math.h"
#include "gru_gates.h"

namespace ccinfer::kernels::avx512 {
namespace {

using namespace gate_constants;

inline __m512 splat(float v) { return _mm512_set1_ps(v); }
inline __m512 sign_bits() { return _mm512_set1_ps(-0.0f); }
inline __mmask16 is_nan(__m512 x) { return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q); }

struct VExpParts {
    __m512 em1_r;
    __m512 scale;
};

inline VExpParts exp_parts(__m512 x) {
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, splat(kLog2e)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, splat(-kLn2Hi), x);
    r = _mm512_fmadd_ps(n, splat(-kLn2Lo), r);
    __m512 p = splat(kExpP[0]);
    for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, splat(kExpP[i]));
    const __m512i bits =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return {_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_castsi512_ps(bits)};
}

inline __m512 exp_gate(__m512 x) {
    // max(lo, x) is lo > x ? lo : x, min(hi, x) is hi < x ? hi : x: the reference's clamps
    // (vminps / vmaxps return the second operand when either is NaN, as on AVX2).
    const __m512 c = _mm512_min_ps(splat(kExpHi), _mm512_max_ps(splat(kExpLo), x));
    const VExpParts e = exp_parts(c);
    const __m512 y = _mm512_mul_ps(_mm512_add_ps(e.em1_r, splat(1.0f)), e.scale);
    return _mm512_mask_blend_ps(is_nan(x), y, x);
}

inline __m512 sigmoid(__m512 u) {
    const __m512 e = exp_gate(_mm512_xor_ps(u, sign_bits()));
    return _mm512_div_ps(splat(1.0f), _mm512_add_ps(splat(1.0f), e));
}

inline __m512 tanh_gate(__m512 x) {
    const __m512 sign = _mm512_and_ps(x, sign_bits());
    const __m512 a = _mm512_andnot_ps(sign_bits(), x);
    // |x| < 0.25: the series.
    const __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_sub_ps(_mm512_mul_ps(splat(kT9), x2), splat(kT7));
    p = _mm512_add_ps(_mm512_mul_ps(p, x2), splat(kT5));
    p = _mm512_sub_ps(_mm512_mul_ps(p, x2), splat(kT3));
    p = _mm512_mul_ps(p, x2);
    const __m512 series = _mm512_mul_ps(x, _mm512_add_ps(splat(1.0f), p));
    // 0.25 <= |x| < 9: (e - 1) / (e + 1), e = exp(2|x|) (other lanes compute garbage, unused).
    const VExpParts e = exp_parts(_mm512_mul_ps(splat(2.0f), a));
    const __m512 em1 = _mm512_fmadd_ps(e.scale, e.em1_r, _mm512_sub_ps(e.scale, splat(1.0f)));
    const __m512 mid = _mm512_or_ps(_mm512_div_ps(em1, _mm512_add_ps(em1, splat(2.0f))), sign);
    // |x| >= 9: +-1; NaN: itself.
    const __m512 big = _mm512_mask_blend_ps(is_nan(x), _mm512_or_ps(splat(1.0f), sign), x);
    const __m512 out =
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, splat(kTanhOne), _CMP_LT_OQ), big, mid);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, splat(kTanhSeries), _CMP_LT_OQ), out, series);
}

// Gate pair (r, n) of 16 consecutive units from p (bias b added when given): the even and odd
// entries of p[0:32], in unit order.
inline void load_pairs(const float* p, const float* b, __m512& r, __m512& n) {
    __m512 lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16);
    if (b) {
        lo = _mm512_add_ps(lo, _mm512_loadu_ps(b));
        hi = _mm512_add_ps(hi, _mm512_loadu_ps(b + 16));
    }
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    r = _mm512_permutex2var_ps(lo, even, hi);
    n = _mm512_permutex2var_ps(lo, _mm512_add_epi32(even, _mm512_set1_epi32(1)), hi);
}

// Gates r, z and n of 16 consecutive units (3 interleaved floats each, 48 in all) from p, bias
// b added when given: three loads and two permutes per gate, not 16-lane gathers (the same
// values, so the same results; the dense batch step's gate maths ran about twice as long with
// gathers).
inline void load_triples(const float* p, const float* b, __m512& r, __m512& z, __m512& n) {
    __m512 a0 = _mm512_loadu_ps(p), a1 = _mm512_loadu_ps(p + 16), a2 = _mm512_loadu_ps(p + 32);
    if (b) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(b));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(b + 16));
        a2 = _mm512_add_ps(a2, _mm512_loadu_ps(b + 32));
    }
    const __m512i three_i =
        _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45);
    const auto gate = [&](int g) {
        // Lane i takes element 3 i + g: from a0:a1 below 32 (permutex2var reads 5 index bits),
        // else from a2 (permutexvar reads 4: 3 i + g - 32).
        const __m512i at = _mm512_add_epi32(three_i, _mm512_set1_epi32(g));
        const __m512 low = _mm512_permutex2var_ps(a0, at, a1);
        return _mm512_mask_permutexvar_ps(low, _mm512_cmpge_epi32_mask(at, _mm512_set1_epi32(32)),
                                          at, a2);
    };
    r = gate(0);
    z = gate(1);
    n = gate(2);
}

// Gate g of the 16 units idx (stride G floats per unit) from p, bias b added when given.
template <int G>
inline __m512 gather_gate(const float* p, const float* b, __m512i idx, int g) {
    const __m512i at =
        _mm512_add_epi32(_mm512_mullo_epi32(idx, _mm512_set1_epi32(G)), _mm512_set1_epi32(g));
    const __m512 v = _mm512_i32gather_ps(at, p, 4);
    return b ? _mm512_add_ps(v, _mm512_i32gather_ps(at, b, 4)) : v;
}

inline __m512 cond_unit(__m512 xr, __m512 xn, __m512 yr, __m512 yn, __m512 z, __m512 h) {
    const __m512 r = sigmoid(_mm512_add_ps(xr, yr));
    const __m512 n = tanh_gate(_mm512_add_ps(xn, _mm512_mul_ps(r, yn)));
    return _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(splat(1.0f), z), h), _mm512_mul_ps(z, n));
}

void gru_cond_units_impl(const float* gx, const float* bx, const float* gh, const float* bh,
                         const float* z, const float* h, const int32_t* units, int64_t n,
                         float* hn) {
    int64_t a = 0;
    if (units) {
        for (; a + 16 <= n; a += 16) {
            const __m512i idx = _mm512_loadu_si512(units + a);
            const __m512 out =
                cond_unit(gather_gate<2>(gx, bx, idx, 0), gather_gate<2>(gx, bx, idx, 1),
                          gather_gate<2>(gh, bh, idx, 0), gather_gate<2>(gh, bh, idx, 1),
                          _mm512_i32gather_ps(idx, z, 4), _mm512_i32gather_ps(idx, h, 4));
            _mm512_i32scatter_ps(hn, idx, out, 4);  // the units are distinct
        }
        scalar::gru_cond_units(gx, bx, gh, bh, z, h, units + a, n - a, hn);
        return;
    }
    for (; a + 16 <= n; a += 16) {
        __m512 xr, xn, yr, yn;
        load_pairs(gx + 2 * a, bx ? bx + 2 * a : nullptr, xr, xn);
        load_pairs(gh + 2 * a, bh ? bh + 2 * a : nullptr, yr, yn);
        _mm512_storeu_ps(hn + a,
                         cond_unit(xr, xn, yr, yn, _mm512_loadu_ps(z + a), _mm512_loadu_ps(h + a)));
    }
    scalar::gru_cond_units(gx + 2 * a, bx ? bx + 2 * a : nullptr, gh + 2 * a,
                           bh ? bh + 2 * a : nullptr, z + a, h + a, nullptr, n - a, hn + a);
}

void gru_dense_units_impl(const float* gx, const float* bx, const float* gh, const float* bh,
                          const float* h, int64_t n, float* hn) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 xr, xz, xn, yr, yz, yn;
        load_triples(gx + 3 * i, bx ? bx + 3 * i : nullptr, xr, xz, xn);
        load_triples(gh + 3 * i, bh ? bh + 3 * i : nullptr, yr, yz, yn);
        const __m512 r = sigmoid(_mm512_add_ps(xr, yr));
        const __m512 z = sigmoid(_mm512_add_ps(xz, yz));
        const __m512 c = tanh_gate(_mm512_add_ps(xn, _mm512_mul_ps(r, yn)));
        const __m512 out = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(splat(1.0f), z), c),
                                         _mm512_mul_ps(z, _mm512_loadu_ps(h + i)));
        _mm512_storeu_ps(hn + i, out);
    }
    scalar::gru_dense_units(gx + 3 * i, bx ? bx + 3 * i : nullptr, gh + 3 * i,
                            bh ? bh + 3 * i : nullptr, h + i, n - i, hn + i);
}

int64_t clip_tanh_impl(float* z, int64_t n, int32_t* units) {
    int64_t count = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 u = _mm512_loadu_ps(z + i);
        const __mmask16 on = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GT_OQ);  // NaN: off
        _mm512_storeu_ps(z + i, _mm512_maskz_mov_ps(on, tanh_gate(u)));
        unsigned bits = on;
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
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, tanh_gate(_mm512_loadu_ps(x + i)));
    scalar::tanh_gate_array(x + i, n - i, y + i);
}

}  // namespace

const GruCondUnitsFn gru_cond_units = gru_cond_units_impl;
const GruDenseUnitsFn gru_dense_units = gru_dense_units_impl;
const ClipTanhFn clip_tanh = clip_tanh_impl;
const TanhGateArrayFn tanh_gate_array = tanh_gate_array_impl;

}  // namespace ccinfer::kernels::avx512
