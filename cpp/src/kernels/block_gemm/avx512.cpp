// AVX-512 block GEMM in dot-product form: a tile of kMs samples x 4 weight rows keeps 24
// accumulators of 16 lanes along k, so each load of x is shared by 4 rows and each load of w
// by 6 samples (10 loads per 24 FMAs), and w needs no packing: its rows are already
// contiguous along k. The tail of k is a masked load; the 4 sums of a sample are reduced
// together and stored with one 128-bit store.
#include <immintrin.h>

#include <algorithm>

// gcc 12 reports the undefined pass-through operand inside the AVX-512 extract intrinsics as
// "used uninitialized" once they are inlined into templates: a false positive (see also
// -Wno-maybe-uninitialized in cmake/IsaFlags.cmake).
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "../weights_avx512.h"
#include "../sample_tiles.h"
#include "block_gemm.h"

namespace ccinfer::kernels::avx512 {
namespace {

constexpr int kMs = 6;  // samples per tile
constexpr int kNw = 4;  // weight rows per tile

// Sum of the low and high 256-bit halves.
inline __m256 fold(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
}

// The four horizontal sums of a0..a3, in order.
inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    const __m256 h =
        _mm256_hadd_ps(_mm256_hadd_ps(fold(a0), fold(a1)), _mm256_hadd_ps(fold(a2), fold(a3)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// One horizontal sum, added in the same order as reduce4 adds each of its four: a row's
// result does not depend on which rows share its tile (so any split of rows is bit-identical).
inline float hsum(__m512 a) {
    const __m512 z = _mm512_setzero_ps();
    return _mm_cvtss_f32(reduce4(a, z, z, z));
}

// pf: when not null, NW rows (stride ldw) ahead, prefetched into L1 one line per row per step
// of k (see panel_tile).
template <int MS, int NW, typename W>
inline void tile(const W* w, int64_t ldw, int64_t k16, __mmask16 tail, const float* x,
                 int64_t ldx, const int32_t* samples, float* y, int64_t ldy, const W* pf) {
    const float* xp[MS];
    float* yp[MS];
    for (int i = 0; i < MS; ++i) {
        const int64_t s = samples ? samples[i] : i;
        xp[i] = x + s * ldx;
        yp[i] = y + s * ldy;
    }
    const W* wp[NW];
    for (int r = 0; r < NW; ++r) wp[r] = w + r * ldw;

    __m512 acc[MS][NW];
    for (int i = 0; i < MS; ++i)
        for (int r = 0; r < NW; ++r) acc[i][r] = _mm512_setzero_ps();
    for (int64_t j = 0; j < k16; j += 16) {
        if (pf && j % (64 / sizeof(W)) == 0)  // one prefetch per row and line
            for (int r = 0; r < NW; ++r)
                _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + j), _MM_HINT_T0);
        __m512 xv[MS];
        for (int i = 0; i < MS; ++i) xv[i] = _mm512_loadu_ps(xp[i] + j);
        for (int r = 0; r < NW; ++r) {
            const __m512 wv = load_w16(wp[r] + j);
            for (int i = 0; i < MS; ++i) acc[i][r] = _mm512_fmadd_ps(xv[i], wv, acc[i][r]);
        }
    }
    if (tail) {
        __m512 xv[MS];
        for (int i = 0; i < MS; ++i) xv[i] = _mm512_maskz_loadu_ps(tail, xp[i] + k16);
        for (int r = 0; r < NW; ++r) {
            const __m512 wv = load_w16(tail, wp[r] + k16);
            for (int i = 0; i < MS; ++i) acc[i][r] = _mm512_fmadd_ps(xv[i], wv, acc[i][r]);
        }
    }
    for (int i = 0; i < MS; ++i) {
        if constexpr (NW == 4) {
            _mm_storeu_ps(yp[i], reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
        } else {
            for (int r = 0; r < NW; ++r) yp[i][r] = hsum(acc[i][r]);
        }
    }
}

// MS samples against `rows` rows: whole groups of kNw rows, then the 1-3 left over. With
// `prefetch` (the panel's first tile), each group prefetches the panel's rows two groups
// ahead: the first tile pulls the panel from memory or L3 (gated blocks come in no memory
// order, so nothing beyond the panel is fetched). Measured against no prefetch on the trained
// block model at batch 64 (one process, alternating): float16 conditional step 5-7% faster,
// dense 3-4%; float32 1-1.5% (noise level).
template <int MS, typename W>
void panel_tile(const W* w, int64_t ldw, int64_t rows, int64_t k16, __mmask16 tail,
                const float* x, int64_t ldx, const int32_t* samples, float* y, int64_t ldy,
                bool prefetch) {
    const auto ahead = [&](int64_t r) {
        return prefetch && r + 2 * kNw < rows ? w + (r + 2 * kNw) * ldw : nullptr;
    };
    int64_t r = 0;
    for (; r + kNw <= rows; r += kNw)
        tile<MS, kNw>(w + r * ldw, ldw, k16, tail, x, ldx, samples, y + r, ldy, ahead(r));
    const W* wr = w + r * ldw;
    switch (rows - r) {
        case 3:
            tile<MS, 3>(wr, ldw, k16, tail, x, ldx, samples, y + r, ldy, ahead(r));
            break;
        case 2:
            tile<MS, 2>(wr, ldw, k16, tail, x, ldx, samples, y + r, ldy, ahead(r));
            break;
        case 1:
            tile<MS, 1>(wr, ldw, k16, tail, x, ldx, samples, y + r, ldy, ahead(r));
            break;
        default:
            break;
    }
}

// Rows in panels of kPanelRows (a gated block of 16 units is one panel); within a panel each
// tile of samples runs over all of its rows, so the panel's weights (128 KiB at k = 1024 in
// float32) are re-read from L2 by the later tiles, and the tile's x rows are re-read while
// still close. Tiles hold at most kMs samples, of nearly equal size (26 samples: 6, 5, 5, 5,
// 5, not 6, 6, 6, 6, 2: a small tile does few FMAs per load). Each output is the same dot
// product whatever its tile or panel, so no result depends on the split. Measured against
// the row-group order (each group of 4 rows over every sample) on the trained block model at
// batch 64 (Xeon Skylake-SP, both orders alternating in one process): the conditional step
// 6-8% faster, the dense one 0-11%; the AVX2 kernel showed no difference and keeps it.
constexpr int64_t kPanelRows = 32;

template <typename W>
void block_gemm_impl(const W* w, int64_t ldw, int64_t nrows, int64_t k, const float* x,
                     int64_t ldx, const int32_t* samples, int64_t nsamples, float* y,
                     int64_t ldy) {
    // panel_tile for each tile size 1 to kMs.
    static_assert(kMs == 6, "by_size lists panel_tile for the sizes 1 to kMs");
    using PanelTile = void (*)(const W*, int64_t, int64_t, int64_t, __mmask16, const float*,
                               int64_t, const int32_t*, float*, int64_t, bool);
    static constexpr PanelTile by_size[kMs + 1] = {nullptr,          panel_tile<1, W>,
                                                   panel_tile<2, W>, panel_tile<3, W>,
                                                   panel_tile<4, W>, panel_tile<5, W>,
                                                   panel_tile<6, W>};
    const int64_t k16 = k & ~int64_t{15};
    const __mmask16 tail = static_cast<__mmask16>((1u << (k - k16)) - 1u);
    for (int64_t r0 = 0; r0 < nrows; r0 += kPanelRows) {
        const int64_t rows = std::min(kPanelRows, nrows - r0);
        const W* wp = w + r0 * ldw;
        for_each_tile(samples, nsamples, kMs, x, ldx, y, ldy,
                      [&](int64_t t, int64_t size, const int32_t* si, const float* xi, float* yi) {
                          by_size[size](wp, ldw, rows, k16, tail, xi, ldx, si, yi + r0, ldy,
                                        t == 0);
                      });
    }
}

}  // namespace

const BlockGemmFn block_gemm = block_gemm_impl<float>;
const BlockGemmF16Fn block_gemm_f16 = block_gemm_impl<uint16_t>;

}  // namespace ccinfer::kernels::avx512
