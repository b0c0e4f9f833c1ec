// AVX-512 panel GEMM in outer-product form: a tile of up to kMs samples keeps 2 accumulators
// of 16 rows each per sample (24 registers at 12 samples); each step of j loads the panel's
// 32 weights of column j once (2 vectors) and multiplies them by one broadcast x[s, j] per
// sample, so the weights are read once per tile, x once per panel, and no horizontal sums
// are needed. Rows past nrows in the last panel are computed on the zero padding and not
// stored.
#include <immintrin.h>

#include <algorithm>

#include "../weights_avx512.h"
#include "../sample_tiles.h"
#include "panel_gemm.h"

namespace ccinfer::kernels::avx512 {
namespace {

constexpr int kMs = 12;  // samples per tile

// MS samples against one panel; store_lo / store_hi mask the rows stored. The tile issues
// fetch_lines prefetches (into L2) at `fetch`, a few per step of 16 columns.
template <int MS, typename W>
void tile(const W* panel, int64_t k, const float* x, int64_t ldx, const int32_t* samples,
          float* y, int64_t ldy, __mmask16 store_lo, __mmask16 store_hi, const char* fetch,
          int64_t fetch_lines) {
    const int64_t steps = (k + 15) / 16;
    const int64_t per_step = (fetch_lines + steps - 1) / steps;
    int64_t fetched = 0;
    const float* xp[MS];
    for (int i = 0; i < MS; ++i) xp[i] = x + (samples ? samples[i] : i) * ldx;
    __m512 lo[MS], hi[MS];
    for (int i = 0; i < MS; ++i) lo[i] = hi[i] = _mm512_setzero_ps();
    for (int64_t j = 0; j < k; ++j) {
        if (j % 16 == 0)
            for (int64_t q = 0; q < per_step && fetched < fetch_lines; ++q, ++fetched)
                _mm_prefetch(fetch + fetched * 64, _MM_HINT_T1);
        const __m512 w_lo = load_w16(panel + j * kPanelRows);
        const __m512 w_hi = load_w16(panel + j * kPanelRows + 16);
        for (int i = 0; i < MS; ++i) {
            const __m512 xb = _mm512_set1_ps(xp[i][j]);
            lo[i] = _mm512_fmadd_ps(w_lo, xb, lo[i]);
            hi[i] = _mm512_fmadd_ps(w_hi, xb, hi[i]);
        }
    }
    for (int i = 0; i < MS; ++i) {
        float* ys = y + (samples ? samples[i] : i) * ldy;
        _mm512_mask_storeu_ps(ys, store_lo, lo[i]);
        _mm512_mask_storeu_ps(ys + 16, store_hi, hi[i]);
    }
}

template <typename W>
void panel_gemm_impl(const W* panels, int64_t nrows, int64_t k, const float* x, int64_t ldx,
                     const int32_t* samples, int64_t nsamples, float* y, int64_t ldy,
                     WeightStream stream) {
    static_assert(kMs == 12, "by_size lists tile for the sizes 1 to kMs");
    using Tile = void (*)(const W*, int64_t, const float*, int64_t, const int32_t*, float*,
                          int64_t, __mmask16, __mmask16, const char*, int64_t);
    static constexpr Tile by_size[kMs + 1] = {
        nullptr,      tile<1, W>, tile<2, W>, tile<3, W>,  tile<4, W>,  tile<5, W>, tile<6, W>,
        tile<7, W>,   tile<8, W>, tile<9, W>, tile<10, W>, tile<11, W>, tile<12, W>};
    const int64_t panel_bytes = kPanelRows * k * int64_t{sizeof(W)};
    const int64_t ntiles = (nsamples + kMs - 1) / kMs;  // per panel
    for (int64_t p0 = 0; p0 < nrows; p0 += kPanelRows) {
        const W* panel = panels + p0 * k;
        const int64_t rows = std::min(kPanelRows, nrows - p0);
        const auto mask = [](int64_t n) {
            return static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << std::max<int64_t>(n, 0)) - 1u);
        };
        const __mmask16 store_lo = mask(rows), store_hi = mask(rows - 16);
        // Streamed: this panel's tiles share out the prefetch of the next panel, or after the
        // last of the caller's next weights (at most a panel; the next call fetches the rest).
        const char* next = nullptr;
        int64_t next_lines = 0;
        if (stream.streamed && p0 + kPanelRows < nrows) {
            next = reinterpret_cast<const char*>(panel + kPanelRows * k);
            next_lines = panel_bytes / 64;
        } else if (stream.streamed && stream.next) {
            next = static_cast<const char*>(stream.next);
            next_lines = (std::min(stream.next_bytes, panel_bytes) + 63) / 64;
        }
        for_each_tile(samples, nsamples, kMs, x, ldx, y, ldy,
                      [&](int64_t t, int64_t size, const int32_t* si, const float* xi, float* yi) {
                          const int64_t l0 = next_lines * t / ntiles;
                          const int64_t l1 = next_lines * (t + 1) / ntiles;
                          by_size[size](panel, k, xi, ldx, si, yi + p0, ldy, store_lo, store_hi,
                                        next + 64 * l0, l1 - l0);
                      });
    }
}

}  // namespace

const PanelGemmFn panel_gemm = panel_gemm_impl<float>;
const PanelGemmF16Fn panel_gemm_f16 = panel_gemm_impl<uint16_t>;

}  // namespace ccinfer::kernels::avx512
