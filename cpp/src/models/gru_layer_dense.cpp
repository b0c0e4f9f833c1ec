// The dense layer: exactly torch.nn.GRU, every unit updated every step (gru.h).
//  - one stream: the rows of the units claimed from the shared cursor (gemv_rows), then the
//    gate maths of those units;
//  - batch: the outer-product panel GEMM (kernels/panel_gemm, over the packed copy of
//    gru_panels.h) on chunks of units claimed by the threads, then the gate maths, in one
//    parallel region (no BLAS call anywhere in the step: the two thread pools never
//    alternate, docs/performance/threads.md, and at full density the kernel outruns sgemm).
#include <omp.h>

#include <algorithm>

#include "ccinfer/threads.h"
#include "gru_layer.h"

namespace ccinfer::detail {
namespace {

// Units per claim of the batch step's products: 96 rows, three whole panels (a chunk must
// start on a panel: 3 c0 a multiple of 32), about 0.3 ms at batch 64 and hidden 1024.
constexpr int64_t kUnitsPerClaim = 32;
static_assert(3 * kUnitsPerClaim % kPanelRows == 0, "chunks start on a panel");

class DenseLayer final : public GruLayer {
  public:
    DenseLayer(const GruLayerInit& in, bool lookup, const std::string& where)
        : GruLayer(in, lookup, 3, where) {}

    int64_t step(const StreamStep& s) const override {
        const kernels::KernelTable& kernel = kernels::active();
        const int64_t chunk = s.nt == 1 ? h_ : kStreamUnitsPerClaim;
        const float* gx = lookup_ ? lookup_row(s.token) : s.gx;
        for (int64_t a0; (a0 = claim(s.cursor, chunk)) < h_;) {
            const int64_t a1 = std::min(h_, a0 + chunk);
            const int32_t* rows = s.iota + 3 * a0;
            const int64_t nrows = 3 * (a1 - a0);
            if (!lookup_) w_ih().gemv_rows(d_, d_, s.x, rows, nrows, b_ih_.data(), s.gx);
            w_hh().gemv_rows(h_, h_, s.h, rows, nrows, b_hh_.data(), s.gh);
            kernel.gru_dense_units(gx + 3 * a0, nullptr, s.gh + 3 * a0, nullptr, s.h + a0, a1 - a0,
                                   s.hn + a0);
        }
        return h_;
    }

    int64_t step_batch(const BatchStep& b) const override {
        const kernels::KernelTable& kernel = kernels::active();
        const int64_t n = b.n, h = h_, m = 3 * h, in = in_width();
        const PanelReads reads = panel_reads(b);
        float* GX = b.ws.gx.data();
        float* GH = b.ws.gh.data();
        float* H = b.H;
        int64_t* cursor = b.cursor;
        const int nth = std::min(threads_for_work(n * m * (in + h)), b.ws.threads);
#pragma omp parallel num_threads(nth) if (nth > 1)
        {
            const int ith = omp_get_thread_num();
            const int nt = omp_get_num_threads();
            const int64_t chunk = nt == 1 ? h : kUnitsPerClaim;
            const auto rows_of = [&](int64_t c) { return 3 * (std::min(h, c + chunk) - c); };
            // Each thread claims its next chunk before computing the current one, so the
            // kernel can prefetch the weights it reads next when they are streamed.
            for (int64_t c0 = claim(cursor, chunk), c1; c0 < h; c0 = c1) {
                c1 = claim(cursor, chunk);
                const int64_t rows = rows_of(c0);
                // Next: this chunk's W_hh, then this thread's next chunk.
                if (!lookup_)
                    reads.ih.gemm(3 * c0, rows, b.x, d_, nullptr, n, GX + 3 * c0, m,
                                  reads.hh_rows(3 * c0, rows));
                reads.hh.gemm(
                    3 * c0, rows, H, h, nullptr, n, GH + 3 * c0, m,
                    c1 < h ? reads.first_rows(3 * c1, rows_of(c1)) : WeightStream{reads.streamed});
            }
            const int64_t u0 = aligned_slice_start(h, ith, nt);
            const int64_t u1 = aligned_slice_start(h, ith + 1, nt);
#pragma omp barrier
            // Every thread has read the old state: update this thread's units.
            const float* bx = lookup_ ? nullptr : b_ih_.data() + 3 * u0;
            for (int64_t s = 0; s < n; ++s) {
                float* hs = H + s * h + u0;
                kernel.gru_dense_units(batch_gx(b, s) + 3 * u0, bx, GH + s * m + 3 * u0,
                                       b_hh_.data() + 3 * u0, hs, u1 - u0, hs);
            }
        }
        return n * h;
    }

    LayerPanels pack(int threads) const override {
        // The whole matrix is one run of panels.
        LayerPanels p;
        const int64_t m = 3 * h_;
        if (!lookup_) p.ih = pack_weights(w_ih_.data(), w_ih16_.data(), m, d_, m, threads);
        p.hh = pack_weights(w_hh_.data(), w_hh16_.data(), m, h_, m, threads);
        return p;
    }

    void count(GruLayerStats& s, int64_t n, int64_t active) const override {
        s.samples += n;
        s.z_active += active;
        s.macs += n * 3 * h_ * (in_width() + h_);
    }
};

}  // namespace

std::vector<GruTensorSpec> dense_tensors(int64_t d, int64_t h) { return gate_tensors(3, d, h); }

std::shared_ptr<const GruLayer> make_dense_layer(const GruLayerInit& in, bool lookup,
                                                 const std::string& where) {
    GruLayer::check_common(in, where);
    return std::make_shared<DenseLayer>(in, lookup, where);
}

}  // namespace ccinfer::detail
