#pragma once
// The block GEMM in dot-product form, written once over a vector layer S (simd/*.h): a tile of
// MS samples x NW weight rows keeps MS * NW accumulators along k, so each load of x is shared
// by NW rows and each load of w by MS samples, and w needs no packing (its rows are already
// contiguous along k). The tail of k is a masked load. The NW sums of a sample are reduced by
// BlockSums<S> (the ISA's horizontal-add tree, a named specialisation in its <isa>.cpp: part of
// the bit contract), and one row's sum is added in the same order as four: a row's result does
// not depend on which rows share its tile, so any split of rows is bit-identical.
//
// Two orders of the tiles, each an ISA's measured choice:
//  - block_gemm_row_groups: each group of NW rows over every sample (AVX2);
//  - block_gemm_panels: panels of rows, each tile of samples over all of a panel's rows
//    (AVX-512; see there).
#include <algorithm>
#include <type_traits>

#include "../preconditions.h"
#include "../sample_tiles.h"
#include "../table.h"

namespace ccinfer::kernels {

/// Per ISA: static void store4(float* y, V a0, V a1, V a2, V a3) writes the four horizontal
/// sums in order; static float sum1(V a) is one of them, added in the same order.
template <class S>
struct BlockSums;

constexpr int kBlockGemmRows = 4;  // weight rows per tile

// MS samples against NW rows. pf: when not null, the NW rows (stride ldw) to prefetch, one
// 64-byte line per row and line of w.
template <class S, int MS, int NW, typename Wt>
inline void block_gemm_tile(const Wt* w, int64_t ldw, int64_t kw, const typename S::Mask& tail,
                            bool has_tail, const float* x, int64_t ldx, const int32_t* samples,
                            float* y, int64_t ldy, const Wt* pf) {
    using V = typename S::V;
    constexpr int64_t W = S::kWidth;
    const float* xp[MS];
    float* yp[MS];
    for (int i = 0; i < MS; ++i) {
        const int64_t s = samples ? samples[i] : i;
        xp[i] = x + s * ldx;
        yp[i] = y + s * ldy;
    }
    const Wt* wp[NW];
    for (int r = 0; r < NW; ++r) wp[r] = w + r * ldw;

    V acc[MS][NW];
    for (int i = 0; i < MS; ++i)
        for (int r = 0; r < NW; ++r) acc[i][r] = S::zero();
    for (int64_t j = 0; j < kw; j += W) {
        if (pf && j % (64 / sizeof(Wt)) == 0)
            for (int r = 0; r < NW; ++r) S::prefetch(pf + r * ldw + j);
        V xv[MS];
        for (int i = 0; i < MS; ++i) xv[i] = S::load(xp[i] + j);
        for (int r = 0; r < NW; ++r) {
            const V wv = S::load(wp[r] + j);
            for (int i = 0; i < MS; ++i) acc[i][r] = S::fma(xv[i], wv, acc[i][r]);
        }
    }
    if (has_tail) {
        V xv[MS];
        for (int i = 0; i < MS; ++i) xv[i] = S::load(tail, xp[i] + kw);
        for (int r = 0; r < NW; ++r) {
            const V wv = S::load(tail, wp[r] + kw);
            for (int i = 0; i < MS; ++i) acc[i][r] = S::fma(xv[i], wv, acc[i][r]);
        }
    }
    for (int i = 0; i < MS; ++i) {
        if constexpr (NW == 4) {
            BlockSums<S>::store4(yp[i], acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
        } else {
            for (int r = 0; r < NW; ++r) yp[i][r] = BlockSums<S>::sum1(acc[i][r]);
        }
    }
}

// Calls fn.template operator()<N>() for N = n, 1 <= n <= 3: the 1-3 rows (or samples) left
// after whole groups.
template <typename Fn>
inline void with_rest(int64_t n, Fn&& fn) {
    switch (n) {
        case 3:
            fn(std::integral_constant<int, 3>{});
            break;
        case 2:
            fn(std::integral_constant<int, 2>{});
            break;
        case 1:
            fn(std::integral_constant<int, 1>{});
            break;
        default:
            break;
    }
}

// NW weight rows against every sample, kMs samples at a time; the first tile prefetches the
// next group's rows (a prefetch never faults).
template <class S, int kMs, int NW, typename Wt>
void block_gemm_row_group(const Wt* w, int64_t ldw, int64_t kw, const typename S::Mask& tail,
                          bool has_tail, const float* x, int64_t ldx, const int32_t* samples,
                          int64_t nsamples, float* y, int64_t ldy) {
    static_assert(kMs <= 3, "the samples left over are 1 to 3");
    const Wt* pf = w + NW * ldw;
    int64_t i = 0;
    for (; i + kMs <= nsamples; i += kMs) {
        const int32_t* si = samples ? samples + i : nullptr;
        const float* xi = samples ? x : x + i * ldx;
        float* yi = samples ? y : y + i * ldy;
        block_gemm_tile<S, kMs, NW>(w, ldw, kw, tail, has_tail, xi, ldx, si, yi, ldy,
                                    i == 0 ? pf : nullptr);
    }
    if (i > 0) pf = nullptr;
    const int32_t* si = samples ? samples + i : nullptr;
    const float* xi = samples ? x : x + i * ldx;
    float* yi = samples ? y : y + i * ldy;
    with_rest(nsamples - i, [&](auto ms) {
        block_gemm_tile<S, decltype(ms)::value, NW>(w, ldw, kw, tail, has_tail, xi, ldx, si, yi,
                                                    ldy, pf);
    });
}

template <class S, int kMs, typename Wt>
void block_gemm_row_groups(const Wt* w, int64_t ldw, int64_t nrows, int64_t k, const float* x,
                           int64_t ldx, const int32_t* samples, int64_t nsamples, float* y,
                           int64_t ldy) {
    CCINFER_DCHECK(nrows >= 0 && k >= 0 && ldw >= k && ldx >= k && nsamples >= 0);
    CCINFER_DCHECK(!samples || indices_in_range(samples, nsamples, kAnyIndex));
    constexpr int64_t W = S::kWidth;
    const int64_t kw = k & ~(W - 1);
    const typename S::Mask tail = S::first(k - kw);
    const bool has_tail = kw < k;
    int64_t r = 0;
    for (; r + kBlockGemmRows <= nrows; r += kBlockGemmRows)
        block_gemm_row_group<S, kMs, kBlockGemmRows>(w + r * ldw, ldw, kw, tail, has_tail, x, ldx,
                                                     samples, nsamples, y + r, ldy);
    const Wt* wr = w + r * ldw;
    with_rest(nrows - r, [&](auto nw) {
        block_gemm_row_group<S, kMs, decltype(nw)::value>(wr, ldw, kw, tail, has_tail, x, ldx,
                                                          samples, nsamples, y + r, ldy);
    });
}

// MS samples against `rows` rows: whole groups of 4 rows, then the 1-3 left over. With
// `prefetch` (the panel's first tile), each group prefetches the panel's rows two groups
// ahead: the first tile pulls the panel from memory or L3 (gated blocks come in no memory
// order, so nothing beyond the panel is fetched). Measured against no prefetch on the trained
// block model at batch 64 (one process, alternating): float16 conditional step 5-7% faster,
// dense 3-4%; float32 1-1.5% (noise level).
template <class S, int MS, typename Wt>
void block_gemm_panel_tile(const Wt* w, int64_t ldw, int64_t rows, int64_t kw,
                           typename S::Mask tail, bool has_tail, const float* x, int64_t ldx,
                           const int32_t* samples, float* y, int64_t ldy, bool prefetch) {
    constexpr int64_t kNw = kBlockGemmRows;
    const auto ahead = [&](int64_t r) {
        return prefetch && r + 2 * kNw < rows ? w + (r + 2 * kNw) * ldw : nullptr;
    };
    int64_t r = 0;
    for (; r + kNw <= rows; r += kNw)
        block_gemm_tile<S, MS, kNw>(w + r * ldw, ldw, kw, tail, has_tail, x, ldx, samples, y + r,
                                    ldy, ahead(r));
    const Wt* wr = w + r * ldw;
    with_rest(rows - r, [&](auto nw) {
        block_gemm_tile<S, MS, decltype(nw)::value>(wr, ldw, kw, tail, has_tail, x, ldx, samples,
                                                    y + r, ldy, ahead(r));
    });
}

// Rows in panels of 32 (a gated block of 16 units is one panel); within a panel each tile of
// samples runs over all of its rows, so the panel's weights (128 KiB at k = 1024 in
// float32) are re-read from L2 by the later tiles, and the tile's x rows are re-read while
// still close. Tiles hold at most kMs samples, of nearly equal size (26 samples: 6, 5, 5, 5,
// 5, not 6, 6, 6, 6, 2: a small tile does few FMAs per load). Each output is the same dot
// product whatever its tile or panel, so no result depends on the split. Measured against
// the row-group order on the trained block model at batch 64 (Xeon Skylake-SP, both orders
// alternating in one process): the conditional step 6-8% faster, the dense one 0-11%; the
// AVX2 kernel showed no difference and keeps the row-group order.
template <class S, int kMs, typename Wt>
void block_gemm_panels(const Wt* w, int64_t ldw, int64_t nrows, int64_t k, const float* x,
                       int64_t ldx, const int32_t* samples, int64_t nsamples, float* y,
                       int64_t ldy) {
    CCINFER_DCHECK(nrows >= 0 && k >= 0 && ldw >= k && ldx >= k && nsamples >= 0);
    CCINFER_DCHECK(!samples || indices_in_range(samples, nsamples, kAnyIndex));
    constexpr int64_t kBlockPanelRows = 32;
    static_assert(kMs == 6, "by_size lists the panel tile for the sizes 1 to kMs");
    using PanelTile = void (*)(const Wt*, int64_t, int64_t, int64_t, typename S::Mask, bool,
                               const float*, int64_t, const int32_t*, float*, int64_t, bool);
    static constexpr PanelTile by_size[kMs + 1] = {nullptr,
                                                   block_gemm_panel_tile<S, 1, Wt>,
                                                   block_gemm_panel_tile<S, 2, Wt>,
                                                   block_gemm_panel_tile<S, 3, Wt>,
                                                   block_gemm_panel_tile<S, 4, Wt>,
                                                   block_gemm_panel_tile<S, 5, Wt>,
                                                   block_gemm_panel_tile<S, 6, Wt>};
    constexpr int64_t W = S::kWidth;
    const int64_t kw = k & ~(W - 1);
    const typename S::Mask tail = S::first(k - kw);
    const bool has_tail = kw < k;
    for (int64_t r0 = 0; r0 < nrows; r0 += kBlockPanelRows) {
        const int64_t rows = std::min(kBlockPanelRows, nrows - r0);
        const Wt* wp = w + r0 * ldw;
        for_each_tile(samples, nsamples, kMs, x, ldx, y, ldy,
                      [&](int64_t t, int64_t size, const int32_t* si, const float* xi, float* yi) {
                          by_size[size](wp, ldw, rows, kw, tail, has_tail, xi, ldx, si, yi + r0,
                                        ldy, t == 0);
                      });
    }
}

}  // namespace ccinfer::kernels
