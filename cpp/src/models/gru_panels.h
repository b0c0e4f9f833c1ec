#pragma once
// The batch step's copy of the dense and block layers' weights, packed in row panels for the
// outer-product GEMM (kernels/panel_gemm). Made by the first batch step of a model (a
// one-stream user never pays its memory: as many bytes again as those layers' W_ih and W_hh),
// once, whichever thread gets there first.

#include <cassert>
#include <cstdint>
#include <mutex>
#include <vector>

#include "ccinfer/aligned.h"
#include "ccinfer/panel_gemm.h"
#include "ccinfer/weight_stream.h"

namespace ccinfer::detail {

/// One matrix (rows, k) as runs of `run_rows` rows, each run packed in panels starting on a
/// panel of its own: a dense layer's matrix is one run, a block layer's one run per block of
/// 2 B rows (so a block's product reads only its own panels). Exactly one of f32 / f16 is
/// filled, as in the layer.
struct PanelWeights {
    AlignedBuffer<float> f32;
    AlignedBuffer<uint16_t> f16;
    int64_t run_rows = 0, k = 0;

    bool empty() const { return f32.empty() && f16.empty(); }
    /// fn(p) with the stored buffer's pointer, typed.
    template <typename Fn>
    void visit(Fn&& fn) const {
        if (f16.empty())
            fn(f32.data());
        else
            fn(f16.data());
    }
    /// Elements from the matrix start to row `row`, which starts a panel of its run.
    int64_t offset(int64_t row) const {
        assert(!empty() && row % run_rows % kPanelRows == 0);
        return row / run_rows * packed_panels_size(run_rows, k) + row % run_rows * k;
    }
    const void* bytes_at(int64_t row) const {
        const void* at = nullptr;
        visit([&](auto p) { at = p + offset(row); });
        return at;
    }
    int64_t bytes_of(int64_t rows) const { return rows * k * (f16.empty() ? 4 : 2); }
    /// What a caller about to read rows [row, row + rows) tells the kernel before it.
    WeightStream stream(bool streamed, int64_t row, int64_t rows) const {
        return {streamed, bytes_at(row), bytes_of(rows)};
    }
    /// Y[s, 0:rows] = X[s] W[row:row + rows]^T for the listed samples (kernels' panel_gemm):
    /// `row` starts a panel of its run and the rows stay inside the run.
    void gemm(int64_t row, int64_t rows, const float* x, int64_t ldx, const int32_t* samples,
              int64_t nsamples, float* y, int64_t ldy, WeightStream stream) const;
};

struct LayerPanels {
    PanelWeights ih;  ///< empty for a token lookup (or a low-rank layer)
    PanelWeights hh;  ///< empty for a low-rank layer
    /// Block layers' z path, W_zl (g, d) (empty for a token lookup) and U_zl (g, h).
    PanelWeights zl_x, zl_h;
};

/// Filled once (std::call_once on `once`) by GRUStack::batch_panels().
struct BatchPanels {
    std::once_flag once;
    std::vector<LayerPanels> layers;
};

/// Packs w (rows, k) row-major, float32 or binary16 (exactly one non-null), in runs of
/// run_rows rows; the panels are shared out among up to `threads` threads.
PanelWeights pack_weights(const float* f32, const uint16_t* f16, int64_t rows, int64_t k,
                          int64_t run_rows, int threads);

}  // namespace ccinfer::detail
