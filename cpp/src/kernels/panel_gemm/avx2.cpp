// AVX2 panel GEMM in outer-product form. Sixteen registers hold a tile of up to kMs samples
// against half a panel (16 rows, 2 accumulators of 8 per sample: 12 at 6 samples, plus 2 for
// the weights and 1 for the broadcast), so each panel is run as two halves. The sums are the
// same FMA chains in order of j as on every ISA. `stream` is ignored (no prefetch here).
#include <immintrin.h>

#include <algorithm>

#include "../weights_avx2.h"
#include "../sample_tiles.h"
#include "panel_gemm.h"

namespace ccinfer::kernels::avx2 {
namespace {

constexpr int kMs = 6;  // samples per tile

// MS samples against rows [half, half + 16) of one panel, `rows` (1 to 16) of them stored.
template <int MS, typename W>
void tile(const W* panel, int64_t k, const float* x, int64_t ldx, const int32_t* samples,
          float* y, int64_t ldy, int64_t rows) {
    const float* xp[MS];
    for (int i = 0; i < MS; ++i) xp[i] = x + (samples ? samples[i] : i) * ldx;
    __m256 a[MS], b[MS];
    for (int i = 0; i < MS; ++i) a[i] = b[i] = _mm256_setzero_ps();
    for (int64_t j = 0; j < k; ++j) {
        const __m256 wa = load_w8(panel + j * kPanelRows);
        const __m256 wb = load_w8(panel + j * kPanelRows + 8);
        for (int i = 0; i < MS; ++i) {
            const __m256 xb = _mm256_broadcast_ss(xp[i] + j);
            a[i] = _mm256_fmadd_ps(wa, xb, a[i]);
            b[i] = _mm256_fmadd_ps(wb, xb, b[i]);
        }
    }
    for (int i = 0; i < MS; ++i) {
        float* ys = y + (samples ? samples[i] : i) * ldy;
        if (rows == 16) {
            _mm256_storeu_ps(ys, a[i]);
            _mm256_storeu_ps(ys + 8, b[i]);
        } else {
            alignas(32) float out[16];
            _mm256_store_ps(out, a[i]);
            _mm256_store_ps(out + 8, b[i]);
            std::copy(out, out + rows, ys);
        }
    }
}

template <typename W>
void panel_gemm_impl(const W* panels, int64_t nrows, int64_t k, const float* x, int64_t ldx,
                     const int32_t* samples, int64_t nsamples, float* y, int64_t ldy,
                     WeightStream /*stream: no prefetch here*/) {
    static_assert(kMs == 6, "by_size lists tile for the sizes 1 to kMs");
    using Tile = void (*)(const W*, int64_t, const float*, int64_t, const int32_t*, float*,
                          int64_t, int64_t);
    static constexpr Tile by_size[kMs + 1] = {nullptr,    tile<1, W>, tile<2, W>, tile<3, W>,
                                              tile<4, W>, tile<5, W>, tile<6, W>};
    for (int64_t p0 = 0; p0 < nrows; p0 += kPanelRows) {
        const W* panel = panels + p0 * k;
        for (int64_t half = 0; half < kPanelRows && p0 + half < nrows; half += 16) {
            const int64_t rows = std::min<int64_t>(16, nrows - p0 - half);
            for_each_tile(samples, nsamples, kMs, x, ldx, y, ldy,
                          [&](int64_t, int64_t size, const int32_t* si, const float* xi,
                              float* yi) {
                              by_size[size](panel + half, k, xi, ldx, si, yi + p0 + half, ldy,
                                            rows);
                          });
        }
    }
}

}  // namespace

const PanelGemmFn panel_gemm = panel_gemm_impl<float>;
const PanelGemmF16Fn panel_gemm_f16 = panel_gemm_impl<uint16_t>;

}  // namespace ccinfer::kernels::avx2
