#pragma once
// The GRU step's per-unit gate maths over many units, written once over a vector layer S
// (simd/*.h): the operations of ccinfer/gate_math.h in the same order on S::kWidth lanes, so
// every unit gets the scalar reference's bits (scalar.cpp; the files of this folder are
// compiled with -ffp-contract=off, so that no multiply and add is fused that the reference
// keeps apart). Exact IEEE division, no reciprocal estimates. The last n % width units go to
// the scalar kernel.
//
// How the gates of consecutive units are read is each ISA's own, a named specialisation of
// GateLoads<S> in its <isa>.cpp: the unit-interleaved pairs (r, n) and triples (r, z, n) of
// the pre-activations, and the gathers and stores of the units listed by index.
#include "../table.h"
#include "ccinfer/check.h"
#include "ccinfer/gate_math.h"

namespace ccinfer::kernels {

/// Per ISA (its <isa>.cpp), with V = S::V:
///   pairs(p, b, r, n)        gates r, n of kWidth consecutive units from p (2 floats each),
///                            b (when not null) added first
///   triples(p, b, r, z, n)   the same for 3 floats per unit
///   Idx, index(units)        kWidth unit indices
///   gather<G>(p, b, idx, g)  gate g of the listed units (G floats each), b added when given
///   gather(p, idx)           p[idx]
///   scatter(p, idx, v)       p[idx] = v (the units distinct)
template <typename S>
struct GateLoads;

template <typename S>
struct GateMath {
    using V = typename S::V;

    static V splat(float v) { return S::set1(v); }
    static V sign_bits() { return S::set1(-0.0f); }

    struct ExpParts {
        V em1_r;
        V scale;
    };

    static ExpParts exp_parts(V x) {
        using namespace gate_constants;
        const V n = S::round(S::mul(x, splat(kLog2e)));
        V r = S::fma(n, splat(-kLn2Hi), x);
        r = S::fma(n, splat(-kLn2Lo), r);
        V p = splat(kExpP[0]);
        for (int i = 1; i < 6; ++i) p = S::fma(p, r, splat(kExpP[i]));
        return {S::fma(p, S::mul(r, r), r), S::pow2(n)};
    }

    static V exp_gate(V x) {
        using namespace gate_constants;
        // max(lo, x) is lo > x ? lo : x, min(hi, x) is hi < x ? hi : x: the reference's clamps.
        const V c = S::min(splat(kExpHi), S::max(splat(kExpLo), x));
        const ExpParts e = exp_parts(c);
        const V y = S::mul(S::add(e.em1_r, splat(1.0f)), e.scale);
        return S::select(S::is_nan(x), x, y);
    }

    static V sigmoid(V u) {
        const V e = exp_gate(S::bit_xor(u, sign_bits()));
        return S::div(splat(1.0f), S::add(splat(1.0f), e));
    }

    static V tanh_gate(V x) {
        using namespace gate_constants;
        const V sign = S::bit_and(x, sign_bits());
        const V a = S::bit_andnot(sign_bits(), x);
        // |x| < 0.25: the series.
        const V x2 = S::mul(x, x);
        V p = S::sub(S::mul(splat(kT9), x2), splat(kT7));
        p = S::add(S::mul(p, x2), splat(kT5));
        p = S::sub(S::mul(p, x2), splat(kT3));
        p = S::mul(p, x2);
        const V series = S::mul(x, S::add(splat(1.0f), p));
        // 0.25 <= |x| < 9: (e - 1) / (e + 1), e = exp(2|x|) (other lanes compute garbage,
        // unused).
        const ExpParts e = exp_parts(S::mul(splat(2.0f), a));
        const V em1 = S::fma(e.scale, e.em1_r, S::sub(e.scale, splat(1.0f)));
        const V mid = S::bit_or(S::div(em1, S::add(em1, splat(2.0f))), sign);
        // |x| >= 9: +-1; NaN: itself.
        const V big = S::select(S::is_nan(x), x, S::bit_or(splat(1.0f), sign));
        const V out = S::select(S::lt(a, splat(kTanhOne)), mid, big);
        return S::select(S::lt(a, splat(kTanhSeries)), series, out);
    }

    /// (1 - z) h + z n, n = tanh(xn + r yn), r = sigmoid(xr + yr): gru_cond_unit.
    static V cond_unit(V xr, V xn, V yr, V yn, V z, V h) {
        const V r = sigmoid(S::add(xr, yr));
        const V n = tanh_gate(S::add(xn, S::mul(r, yn)));
        return S::add(S::mul(S::sub(splat(1.0f), z), h), S::mul(z, n));
    }
};

/// Whether units[0:n] are distinct (a debug check: the vector path scatters them).
inline bool distinct(const int32_t* units, int64_t n) {
    for (int64_t a = 0; a < n; ++a)
        for (int64_t b = a + 1; b < n; ++b)
            if (units[a] == units[b]) return false;
    return true;
}

template <typename S>
void gru_cond_units(const float* gx, const float* bx, const float* gh, const float* bh,
                    const float* z, const float* h, const int32_t* units, int64_t n, float* hn) {
    using M = GateMath<S>;
    using L = GateLoads<S>;
    using V = typename S::V;
    constexpr int W = S::kWidth;
    CCINFER_DCHECK(n >= 0);
    int64_t a = 0;
    if (units) {
        for (; a + W <= n; a += W) {
            CCINFER_DCHECK(distinct(units + a, W));
            const typename L::Idx idx = L::index(units + a);
            const V out = M::cond_unit(
                L::template gather<2>(gx, bx, idx, 0), L::template gather<2>(gx, bx, idx, 1),
                L::template gather<2>(gh, bh, idx, 0), L::template gather<2>(gh, bh, idx, 1),
                L::gather(z, idx), L::gather(h, idx));
            L::scatter(hn, idx, out);
        }
        scalar::gru_cond_units(gx, bx, gh, bh, z, h, units + a, n - a, hn);
        return;
    }
    for (; a + W <= n; a += W) {
        V xr, xn, yr, yn;
        L::pairs(gx + 2 * a, bx ? bx + 2 * a : nullptr, xr, xn);
        L::pairs(gh + 2 * a, bh ? bh + 2 * a : nullptr, yr, yn);
        S::store(hn + a, M::cond_unit(xr, xn, yr, yn, S::load(z + a), S::load(h + a)));
    }
    scalar::gru_cond_units(gx + 2 * a, bx ? bx + 2 * a : nullptr, gh + 2 * a,
                           bh ? bh + 2 * a : nullptr, z + a, h + a, nullptr, n - a, hn + a);
}

template <typename S>
void gru_dense_units(const float* gx, const float* bx, const float* gh, const float* bh,
                     const float* h, int64_t n, float* hn) {
    using M = GateMath<S>;
    using L = GateLoads<S>;
    using V = typename S::V;
    constexpr int W = S::kWidth;
    CCINFER_DCHECK(n >= 0);
    int64_t i = 0;
    for (; i + W <= n; i += W) {
        V xr, xz, xn, yr, yz, yn;
        L::triples(gx + 3 * i, bx ? bx + 3 * i : nullptr, xr, xz, xn);
        L::triples(gh + 3 * i, bh ? bh + 3 * i : nullptr, yr, yz, yn);
        const V r = M::sigmoid(S::add(xr, yr));
        const V z = M::sigmoid(S::add(xz, yz));
        const V c = M::tanh_gate(S::add(xn, S::mul(r, yn)));
        const V out = S::add(S::mul(S::sub(M::splat(1.0f), z), c), S::mul(z, S::load(h + i)));
        S::store(hn + i, out);
    }
    scalar::gru_dense_units(gx + 3 * i, bx ? bx + 3 * i : nullptr, gh + 3 * i,
                            bh ? bh + 3 * i : nullptr, h + i, n - i, hn + i);
}

template <typename S>
int64_t clip_tanh(float* z, int64_t n, int32_t* units) {
    using V = typename S::V;
    constexpr int W = S::kWidth;
    CCINFER_DCHECK(n >= 0);
    int64_t count = 0, i = 0;
    for (; i + W <= n; i += W) {
        const V u = S::load(z + i);
        const typename S::Cmp on = S::gt(u, S::zero());  // NaN: off
        S::store(z + i, S::select(on, GateMath<S>::tanh_gate(u), S::zero()));
        unsigned bits = S::bits(on);
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

template <typename S>
void tanh_gate_array(const float* x, int64_t n, float* y) {
    constexpr int W = S::kWidth;
    CCINFER_DCHECK(n >= 0);
    int64_t i = 0;
    for (; i + W <= n; i += W) S::store(y + i, GateMath<S>::tanh_gate(S::load(x + i)));
    scalar::tanh_gate_array(x + i, n - i, y + i);
}

}  // namespace ccinfer::kernels
