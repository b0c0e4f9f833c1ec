// The low-rank layer: z = cliptanh(W_z z^lr + b_z), one z per unit (gru.h).
//  - one stream: CondLayer's step, z from the pre-activation below;
//  - batch: the z path as small GEMMs over the batch (the register-tiled block kernel, the
//    samples split among the threads, so no sum depends on the thread count), then per-sample
//    row masks (cond_gemv_batch: each weight row read once for all the samples that need it)
//    and the gate maths of each sample's active units.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "ccinfer/check.h"
#include "ccinfer/threads.h"
#include "gru_layer_cond.h"

namespace ccinfer::detail {
namespace {

// Work (multiply-add equivalents) of the gate maths of one unit: exp, tanh and a few flops.
constexpr int64_t kUnitWork = 64;

class LowRankLayer final : public CondLayer {
  public:
    static void check(const GruLayerInit& in, const std::string& where) {
        CCINFER_CHECK(in.w_z && in.b_z, where, "missing W_z/b_z");
    }

    LowRankLayer(const GruLayerInit& in, bool lookup, const std::string& where)
        : CondLayer(in, lookup, where), w_zt_(rank_ * h_), b_z_(in.b_z, h_) {
        for (int64_t i = 0; i < h_; ++i)  // transposed: see preactivation()
            for (int64_t j = 0; j < rank_; ++j) w_zt_[j * h_ + i] = in.w_z[i * rank_ + j];
    }

    int64_t step_batch(const BatchStep& b) const override {
        const kernels::KernelTable& kernel = kernels::active();
        const int64_t n = b.n, h = h_, m = 2 * h;
        GruWorkspace& ws = b.ws;
        const int64_t active = z_batch(b);
        const float* Z = ws.z.data();
        uint8_t* mask = ws.mask.data();
        for (int64_t s = 0; s < n; ++s)
            for (int64_t i = 0; i < h; ++i) {
                const uint8_t on = Z[s * h + i] > 0.0f;
                mask[s * m + 2 * i] = on;
                mask[s * m + 2 * i + 1] = on;
            }
        float* GH = ws.gh.data();
        if (!lookup_) w_ih().cond_gemv_batch(m, d_, b.x, n, mask, b_ih_.data(), ws.gx.data());
        w_hh().cond_gemv_batch(m, h, b.H, n, mask, b_hh_.data(), GH);
        const int nth = std::min(threads_for_work(active * kUnitWork), ws.threads);
#pragma omp parallel num_threads(nth) if (nth > 1)
        {
            int32_t* units = ws.units.data() + omp_get_thread_num() * ws.h_max;
#pragma omp for schedule(static)
            for (int64_t s = 0; s < n; ++s) {
                const float* z = Z + s * h;
                int64_t na = 0;
                for (int64_t i = 0; i < h; ++i) {
                    units[na] = static_cast<int32_t>(i);
                    na += z[i] > 0.0f;
                }
                float* hs = b.H + s * h;
                kernel.gru_cond_units(batch_gx(b, s), nullptr, GH + s * m, nullptr, z, hs, units,
                                      na, hs);
            }
        }
        return active;
    }

    LayerPanels pack(int) const override { return {}; }  // per-sample row masks, no panels

  private:
    // The pre-activation u = W_z z^lr + b_z (h entries) of one stream, as a sum of the rows
    // of W_z^T (rank x h) at the non-zero entries of the relu output z^lr (about half are
    // 0): an axpy over h, no per-row reductions. nz_index and nz_value are scratch for rank
    // entries each (nz_value may be zlr's own scratch half, not zlr itself).
    void preactivation(const float* zlr, int32_t* nz_index, float* nz_value, float* u) const {
        int64_t nnz = 0;
        for (int64_t j = 0; j < rank_; ++j)
            if (zlr[j] != 0.0f) {
                nz_index[nnz] = static_cast<int32_t>(j);
                nz_value[nnz++] = zlr[j];
            }
        kernels::active().sparse_input_cols(w_zt_.data(), h_, nz_index, nz_value, nnz, 0, h_,
                                            b_z_.data(), u);
    }

    int64_t z_of(float* zlr, float* scratch, float* z, int32_t* units, int32_t* nz) const override {
        preactivation(zlr, nz, scratch, z);
        return kernels::active().clip_tanh(z, h_, units);
    }

    int64_t z_tail_macs() const override { return h_ * rank_; }

    // The z path of n streams: z into ws.z (n, h); returns the active (stream, unit) pairs.
    // Each thread takes a contiguous range of samples (a sample's pre-activation needs all
    // of its z^lr); every output is the same dot product whatever the range.
    int64_t z_batch(const BatchStep& b) const {
        const kernels::KernelTable& kernel = kernels::active();
        GruWorkspace& ws = b.ws;
        const int64_t n = b.n, r = rank_, h = h_, d = d_;
        float* UX = ws.zlr.data();  // (n, r): W_zl x + b_zl, then z^lr
        float* UH = UX + n * r;     // (n, r): U_zl h
        float* Z = ws.z.data();     // (n, h)
        const int64_t work = n * r * (in_width() + h + h);
        const int nth = std::min<int64_t>(std::min(threads_for_work(work), ws.threads), n);
        int64_t active = 0;
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(+ : active)
        {
            const int ith = omp_get_thread_num();
            const int nt = omp_get_num_threads();
            const int64_t s0 = n * ith / nt, s1 = n * (ith + 1) / nt, ns = s1 - s0;
            float* ux = UX + s0 * r;
            float* uh = UH + s0 * r;
            if (ns > 0) {
                if (lookup_) {
                    for (int64_t s = s0; s < s1; ++s)
                        std::memcpy(UX + s * r, w_zl_.data() + int64_t{b.tokens[s]} * r,
                                    sizeof(float) * r);
                } else {
                    kernel.block_gemm(w_zl_.data(), d, r, d, b.x + s0 * d, d, nullptr, ns, ux, r);
                    add_bias(ux, ns, r, b_zl_.data());
                }
                kernel.block_gemm(u_zl_.data(), h, r, h, b.H + s0 * h, h, nullptr, ns, uh, r);
                for (int64_t e = 0; e < ns * r; ++e) ux[e] = std::max(ux[e] + uh[e], 0.0f);
            }
            // UH's row s is free scratch by now.
            int32_t* nz = ws.zlr_nz.data() + ith * ws.r_max;
            for (int64_t s = s0; s < s1; ++s) {
                float* z = Z + s * h;
                preactivation(UX + s * r, nz, UH + s * r, z);  // the one-stream step's sums
                active += kernel.clip_tanh(z, h, nullptr);
            }
        }
        return active;
    }

    AlignedBuffer<float> w_zt_;  ///< W_z transposed, (rank, h)
    AlignedBuffer<float> b_z_;   ///< (h)
};

}  // namespace

std::vector<GruTensorSpec> lowrank_tensors(int64_t d, int64_t h, int64_t r) {
    std::vector<GruTensorSpec> t = cond_tensors(d, h, r);
    t.push_back({"W_z", {h, r}, &GruLayerInit::w_z});
    t.push_back({"b_z", {h}, &GruLayerInit::b_z});
    return t;
}

std::shared_ptr<const GruLayer> make_lowrank_layer(const GruLayerInit& in, bool lookup,
                                                   const std::string& where) {
    GruLayer::check_common(in, where);
    CondLayer::check_cond(in, where);
    LowRankLayer::check(in, where);
    return std::make_shared<LowRankLayer>(in, lookup, where);
}

}  // namespace ccinfer::detail
