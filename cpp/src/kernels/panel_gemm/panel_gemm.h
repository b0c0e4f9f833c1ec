#pragma once
// The panel GEMM in outer-product form over weights packed by ccinfer/panel_gemm.h
// (kPanelRows rows a panel, stored column by column), written once over a vector layer S
// (simd/*.h). A tile of up to kMs samples keeps 2 accumulators of kWidth rows per sample;
// each step of j loads 2 vectors of the panel's column j once and multiplies them by one
// broadcast x[s, j] per sample, so the weights are read once per tile, x once per panel, and
// no horizontal sums are needed. A panel wider than 2 vectors (AVX2: 16 of 32 rows) is run as
// several column strips. Each sum runs over j in order with one fused multiply-add per term,
// so every ISA gives the same bits. Rows past nrows in the last panel are computed on the zero
// padding and not stored.
//
// kStream (AVX-512): with stream.streamed, the tiles of one panel share out the prefetch
// (into L2) of the next panel, or after the last of the caller's next weights
// (ccinfer/weight_stream.h: at most a panel; the next call fetches the rest).
#include <algorithm>
#include <array>
#include <utility>

#include "../preconditions.h"
#include "../sample_tiles.h"
#include "../table.h"
#include "ccinfer/panel_gemm.h"

namespace ccinfer::kernels {

using ccinfer::kPanelRows;
using ccinfer::packed_panels_size;

// MS samples against the strip of 2 vectors of rows at `panel`, `rows` (1 to 2 kWidth) of
// them stored. The tile issues fetch_lines prefetches at `fetch`, a few per 16 columns.
template <class S, int MS, bool kStream, typename Wt>
void panel_gemm_tile(const Wt* panel, int64_t k, const float* x, int64_t ldx,
                     const int32_t* samples, float* y, int64_t ldy, int64_t rows, const char* fetch,
                     int64_t fetch_lines) {
    using V = typename S::V;
    constexpr int64_t W = S::kWidth;
    [[maybe_unused]] const int64_t steps = (k + 15) / 16;
    [[maybe_unused]] const int64_t per_step = kStream ? (fetch_lines + steps - 1) / steps : 0;
    [[maybe_unused]] int64_t fetched = 0;
    const float* xp[MS];
    for (int i = 0; i < MS; ++i) xp[i] = x + (samples ? samples[i] : i) * ldx;
    V lo[MS], hi[MS];
    for (int i = 0; i < MS; ++i) lo[i] = hi[i] = S::zero();
    for (int64_t j = 0; j < k; ++j) {
        if constexpr (kStream) {
            if (j % 16 == 0)
                for (int64_t q = 0; q < per_step && fetched < fetch_lines; ++q, ++fetched)
                    S::prefetch_l2(fetch + fetched * 64);
        }
        const V w_lo = S::load(panel + j * kPanelRows);
        const V w_hi = S::load(panel + j * kPanelRows + W);
        for (int i = 0; i < MS; ++i) {
            const V xb = S::set1(xp[i][j]);
            lo[i] = S::fma(w_lo, xb, lo[i]);
            hi[i] = S::fma(w_hi, xb, hi[i]);
        }
    }
    for (int i = 0; i < MS; ++i) {
        float* ys = y + (samples ? samples[i] : i) * ldy;
        if (rows == 2 * W) {
            S::store(ys, lo[i]);
            S::store(ys + W, hi[i]);
        } else {
            S::store(S::first(rows), ys, lo[i]);
            S::store(S::first(rows - W), ys + W, hi[i]);
        }
    }
}

template <class S, bool kStream, typename Wt>
using PanelGemmTile = void (*)(const Wt*, int64_t, const float*, int64_t, const int32_t*, float*,
                               int64_t, int64_t, const char*, int64_t);

// The tile for each size 1 to sizeof...(I) (index 0 unused).
template <class S, bool kStream, typename Wt, std::size_t... I>
constexpr auto panel_gemm_tiles(std::index_sequence<I...>) {
    return std::array<PanelGemmTile<S, kStream, Wt>, sizeof...(I) + 1>{
        nullptr, panel_gemm_tile<S, static_cast<int>(I) + 1, kStream, Wt>...};
}

template <class S, int kMs, bool kStream, typename Wt>
void panel_gemm(const Wt* panels, int64_t nrows, int64_t k, const float* x, int64_t ldx,
                const int32_t* samples, int64_t nsamples, float* y, int64_t ldy,
                WeightStream stream) {
    CCINFER_DCHECK(nrows >= 0 && k >= 0 && ldx >= k && nsamples >= 0);
    CCINFER_DCHECK(!samples || indices_in_range(samples, nsamples, kAnyIndex));
    constexpr int64_t kStrip = 2 * S::kWidth;
    static_assert(kPanelRows % kStrip == 0, "a panel is whole strips");
    static constexpr auto by_size =
        panel_gemm_tiles<S, kStream, Wt>(std::make_index_sequence<kMs>{});
    const int64_t panel_bytes = kPanelRows * k * int64_t{sizeof(Wt)};
    const int64_t ntiles = (nsamples + kMs - 1) / kMs;  // per strip
    for (int64_t p0 = 0; p0 < nrows; p0 += kPanelRows) {
        const Wt* panel = panels + p0 * k;
        const char* next = nullptr;
        int64_t next_lines = 0;
        if (kStream && stream.streamed && p0 + kPanelRows < nrows) {
            next = reinterpret_cast<const char*>(panel + kPanelRows * k);
            next_lines = panel_bytes / 64;
        } else if (kStream && stream.streamed && stream.next) {
            next = static_cast<const char*>(stream.next);
            next_lines = (std::min(stream.next_bytes, panel_bytes) + 63) / 64;
        }
        for (int64_t r = 0; r < kPanelRows && p0 + r < nrows; r += kStrip) {
            const int64_t rows = std::min(kStrip, nrows - p0 - r);
            for_each_tile(
                samples, nsamples, kMs, x, ldx, y, ldy,
                [&](int64_t t, int64_t size, const int32_t* si, const float* xi, float* yi) {
                    const int64_t l0 = next_lines * t / ntiles;
                    const int64_t l1 = next_lines * (t + 1) / ntiles;
                    by_size[size](panel + r, k, xi, ldx, si, yi + p0 + r, ldy, rows, next + 64 * l0,
                                  l1 - l0);
                });
        }
    }
}

}  // namespace ccinfer::kernels
