#include "gru_panels.h"

#include <omp.h>

#include <algorithm>

#include "../kernels/table.h"

namespace ccinfer::detail {
namespace {

template <typename W>
void pack_runs(const W* w, int64_t rows, int64_t k, int64_t run_rows, W* out, int threads) {
    const int64_t runs = rows / run_rows;
    const int64_t run_size = packed_panels_size(run_rows, k);
    const int64_t panels_per_run = run_size / (kPanelRows * k);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (int64_t p = 0; p < runs * panels_per_run; ++p) {
        const int64_t run = p / panels_per_run, r0 = p % panels_per_run * kPanelRows;
        const int64_t n = std::min(kPanelRows, run_rows - r0);
        pack_panels(w + (run * run_rows + r0) * k, k, n, k, out + run * run_size + r0 * k);
    }
}

}  // namespace

PanelWeights pack_weights(const float* f32, const uint16_t* f16, int64_t rows, int64_t k,
                          int64_t run_rows, int threads) {
    PanelWeights p;
    p.run_rows = run_rows;
    p.k = k;
    const int64_t size = rows / run_rows * packed_panels_size(run_rows, k);
    if (f16) {
        p.f16 = AlignedBuffer<uint16_t>(size);
        pack_runs(f16, rows, k, run_rows, p.f16.data(), threads);
    } else {
        p.f32 = AlignedBuffer<float>(size);
        pack_runs(f32, rows, k, run_rows, p.f32.data(), threads);
    }
    return p;
}

void PanelWeights::gemm(int64_t row, int64_t rows, const float* x, int64_t ldx,
                        const int32_t* samples, int64_t nsamples, float* y, int64_t ldy,
                        WeightStream stream) const {
    visit([&](auto p) {
        kernels::panel_gemm_for(kernels::active(), p)(p + offset(row), rows, k, x, ldx, samples,
                                                      nsamples, y, ldy, stream);
    });
}

}  // namespace ccinfer::detail
