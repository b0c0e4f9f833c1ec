#include "gru_layer_cond.h"

#include <algorithm>
#include <cstring>

#include "ccinfer/check.h"

namespace ccinfer::detail {

std::vector<GruTensorSpec> cond_tensors(int64_t d, int64_t h, int64_t r) {
    std::vector<GruTensorSpec> t = gate_tensors(2, d, h);
    t.push_back({"W_zl", {r, d}, &GruLayerInit::w_zl});
    t.push_back({"U_zl", {r, h}, &GruLayerInit::u_zl});
    t.push_back({"b_zl", {r}, &GruLayerInit::b_zl});
    return t;
}

void CondLayer::check_cond(const GruLayerInit& in, const std::string& where) {
    CCINFER_CHECK(in.rank >= 1, where, "rank/gating must be >= 1");
    CCINFER_CHECK(in.w_zl && in.u_zl && in.b_zl, where, "missing the z path W_zl/U_zl/b_zl");
}

CondLayer::CondLayer(const GruLayerInit& in, bool lookup, const std::string& where)
    : GruLayer(in, lookup, 2, where), u_zl_(in.u_zl, in.rank * in.h), b_zl_(in.b_zl, in.rank) {
    const int64_t r = rank_, d = d_;
    if (lookup_) {
        w_zl_ = AlignedBuffer<float>(d * r);
        for (int64_t t = 0; t < d; ++t)
            for (int64_t j = 0; j < r; ++j) w_zl_[t * r + j] = in.w_zl[j * d + t] + in.b_zl[j];
    } else {
        w_zl_ = AlignedBuffer<float>(in.w_zl, r * d);
    }
}

int64_t CondLayer::step(const StreamStep& s) const {
    const kernels::KernelTable& kernel = kernels::active();
    const int64_t r = rank_, h = h_;
    // Every thread computes the (small) z path itself, identically, instead of waiting for
    // one thread to do it: u = (W_zl x + b_zl) + U_zl h, the first term a lookup for token
    // input, then z^lr = relu(u).
    float* ux = s.zlr;
    float* uh = s.zlr + r;
    if (lookup_)
        std::memcpy(ux, w_zl_.data() + int64_t{s.token} * r, sizeof(float) * r);
    else
        kernel.gemv_rows(w_zl_.data(), d_, d_, s.x, s.iota, r, b_zl_.data(), ux);
    kernel.gemv_rows(u_zl_.data(), h, h, s.h, s.iota, r, nullptr, uh);
    for (int64_t j = 0; j < r; ++j) ux[j] = std::max(ux[j] + uh[j], 0.0f);
    int32_t* units = s.units;  // locals: the loops below store through none of them
    int32_t* rows = s.rows;
    const float* z = s.z;
    const float* hs = s.h;
    float* hn = s.hn;
    const int64_t na = z_of(ux, uh, s.z, units, s.nz);

    // The active units in chunks claimed from the shared cursor.
    const int64_t chunk = s.nt == 1 ? std::max<int64_t>(na, 1) : kStreamUnitsPerClaim;
    const float* gx = lookup_ ? lookup_row(s.token) : s.gx;
    for (int64_t a0; (a0 = claim(s.cursor, chunk)) < na;) {
        const int64_t a1 = std::min(na, a0 + chunk);
        for (int64_t a = a0; a < a1; ++a) {
            rows[2 * (a - a0)] = 2 * units[a];
            rows[2 * (a - a0) + 1] = 2 * units[a] + 1;
        }
        const int64_t nrows = 2 * (a1 - a0);
        if (!lookup_) w_ih().gemv_rows(d_, d_, s.x, rows, nrows, b_ih_.data(), s.gx);
        w_hh().gemv_rows(h, h, hs, rows, nrows, b_hh_.data(), s.gh);
        kernel.gru_cond_units(gx, nullptr, s.gh, nullptr, z, hs, units + a0, a1 - a0, hn);
    }
    const int64_t u0 = h * s.ith / s.nt, u1 = h * (s.ith + 1) / s.nt;
    for (int64_t i = u0; i < u1; ++i)  // units with z = 0 keep their state
        if (!(z[i] > 0.0f)) hn[i] = hs[i];
    return na;
}

void CondLayer::count(GruLayerStats& s, int64_t n, int64_t active) const {
    const int64_t in = in_width();
    s.samples += n;
    s.z_active += active;
    s.rows_skipped += (n * h_ - active) * (lookup_ ? 2 : 4);
    s.macs += n * rank_ * (in + h_) + n * z_tail_macs() + active * 2 * (in + h_);
}

}  // namespace ccinfer::detail
