// The reference panel GEMM: for each sample and row, one fused multiply-add per term in order
// of j (std::fma rounds once, as the SIMD kernels' FMA lanes do, so all ISAs agree bit for
// bit). Half weights are widened exactly.
#include <cmath>

#include "ccinfer/half.h"
#include "panel_gemm.h"

namespace ccinfer::kernels::scalar {
namespace {

template <typename W>
void panel_gemm_impl(const W* panels, int64_t nrows, int64_t k, const float* x, int64_t ldx,
                     const int32_t* samples, int64_t nsamples, float* y, int64_t ldy,
                     WeightStream /*stream: no prefetch here*/) {
    for (int64_t p0 = 0; p0 < nrows; p0 += kPanelRows) {
        const W* panel = panels + p0 * k;
        const int64_t rows = std::min(kPanelRows, nrows - p0);
        for (int64_t i = 0; i < nsamples; ++i) {
            const int64_t s = samples ? samples[i] : i;
            const float* xs = x + s * ldx;
            float acc[kPanelRows] = {};
            for (int64_t j = 0; j < k; ++j)
                for (int64_t r = 0; r < rows; ++r)
                    acc[r] = std::fma(widen(panel[j * kPanelRows + r]), xs[j], acc[r]);
            std::copy(acc, acc + rows, y + s * ldy + p0);
        }
    }
}

}  // namespace

const PanelGemmFn panel_gemm = panel_gemm_impl<float>;
const PanelGemmF16Fn panel_gemm_f16 = panel_gemm_impl<uint16_t>;

}  // namespace ccinfer::kernels::scalar
