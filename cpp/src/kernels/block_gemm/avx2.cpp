// AVX2+FMA block GEMM in dot-product form: a tile of 3 samples x 4 weight rows keeps 12
// accumulators of 8 lanes along k (7 loads per 12 FMAs, all 16 ymm registers in use), so w
// needs no packing. The tail of k is a masked load; the 4 sums of a sample are reduced
// together with a horizontal-add tree and stored with one 128-bit store.
#include <immintrin.h>

#include "../weights_avx2.h"
#include "block_gemm.h"

namespace ccinfer::kernels::avx2 {
namespace {

constexpr int kMs = 3;  // samples per tile
constexpr int kNw = 4;  // weight rows per tile

// The four horizontal sums of a0..a3, in order.
inline __m128 reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// One horizontal sum, added in the same order as reduce4 adds each of its four: a row's
// result does not depend on which rows share its tile (so any split of rows is bit-identical).
inline float hsum(__m256 a) {
    const __m256 z = _mm256_setzero_ps();
    return _mm_cvtss_f32(reduce4(a, z, z, z));
}

// pf: when not null, the NW rows (stride ldw) of the next row group, prefetched one 64-byte
// line per row every other step of k (see the AVX-512 kernel).
template <int MS, int NW, typename W>
inline void tile(const W* w, int64_t ldw, int64_t k8, __m256i tail, int64_t ntail,
                 const float* x, int64_t ldx, const int32_t* samples, float* y, int64_t ldy,
                 const W* pf) {
    const float* xp[MS];
    float* yp[MS];
    for (int i = 0; i < MS; ++i) {
        const int64_t s = samples ? samples[i] : i;
        xp[i] = x + s * ldx;
        yp[i] = y + s * ldy;
    }
    const W* wp[NW];
    for (int r = 0; r < NW; ++r) wp[r] = w + r * ldw;

    __m256 acc[MS][NW];
    for (int i = 0; i < MS; ++i)
        for (int r = 0; r < NW; ++r) acc[i][r] = _mm256_setzero_ps();
    for (int64_t j = 0; j < k8; j += 8) {
        if (pf && j % (64 / sizeof(W)) == 0)  // one prefetch per row and line
            for (int r = 0; r < NW; ++r)
                _mm_prefetch(reinterpret_cast<const char*>(pf + r * ldw + j), _MM_HINT_T0);
        __m256 xv[MS];
        for (int i = 0; i < MS; ++i) xv[i] = _mm256_loadu_ps(xp[i] + j);
        for (int r = 0; r < NW; ++r) {
            const __m256 wv = load_w8(wp[r] + j);
            for (int i = 0; i < MS; ++i) acc[i][r] = _mm256_fmadd_ps(xv[i], wv, acc[i][r]);
        }
    }
    if (ntail) {
        __m256 xv[MS];
        for (int i = 0; i < MS; ++i) xv[i] = _mm256_maskload_ps(xp[i] + k8, tail);
        for (int r = 0; r < NW; ++r) {
            const __m256 wv = load_w8(tail, ntail, wp[r] + k8);
            for (int i = 0; i < MS; ++i) acc[i][r] = _mm256_fmadd_ps(xv[i], wv, acc[i][r]);
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

// NW weight rows against every sample, kMs samples at a time.
template <int NW, typename W>
void row_group(const W* w, int64_t ldw, int64_t k8, __m256i tail, int64_t ntail, const float* x,
               int64_t ldx, const int32_t* samples, int64_t nsamples, float* y, int64_t ldy) {
    const W* pf = w + NW * ldw;  // the next group's rows (a prefetch never faults)
    int64_t i = 0;
    for (; i + kMs <= nsamples; i += kMs) {
        const int32_t* si = samples ? samples + i : nullptr;
        const float* xi = samples ? x : x + i * ldx;
        float* yi = samples ? y : y + i * ldy;
        tile<kMs, NW>(w, ldw, k8, tail, ntail, xi, ldx, si, yi, ldy, i == 0 ? pf : nullptr);
    }
    if (i > 0) pf = nullptr;
    const int32_t* si = samples ? samples + i : nullptr;
    const float* xi = samples ? x : x + i * ldx;
    float* yi = samples ? y : y + i * ldy;
    switch (nsamples - i) {
        case 2:
            tile<2, NW>(w, ldw, k8, tail, ntail, xi, ldx, si, yi, ldy, pf);
            break;
        case 1:
            tile<1, NW>(w, ldw, k8, tail, ntail, xi, ldx, si, yi, ldy, pf);
            break;
        default:
            break;
    }
}

template <typename W>
void block_gemm_impl(const W* w, int64_t ldw, int64_t nrows, int64_t k, const float* x,
                     int64_t ldx, const int32_t* samples, int64_t nsamples, float* y,
                     int64_t ldy) {
    const int64_t k8 = k & ~int64_t{7};
    const int64_t ntail = k - k8;
    // Lanes below k - k8 load, the rest read as zero (and touch no memory).
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k - k8)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int64_t r = 0;
    for (; r + kNw <= nrows; r += kNw)
        row_group<kNw>(w + r * ldw, ldw, k8, tail, ntail, x, ldx, samples, nsamples, y + r, ldy);
    const W* wr = w + r * ldw;
    switch (nrows - r) {
        case 3:
            row_group<3>(wr, ldw, k8, tail, ntail, x, ldx, samples, nsamples, y + r, ldy);
            break;
        case 2:
            row_group<2>(wr, ldw, k8, tail, ntail, x, ldx, samples, nsamples, y + r, ldy);
            break;
        case 1:
            row_group<1>(wr, ldw, k8, tail, ntail, x, ldx, samples, nsamples, y + r, ldy);
            break;
        default:
            break;
    }
}

}  // namespace

const BlockGemmFn block_gemm = block_gemm_impl<float>;
const BlockGemmF16Fn block_gemm_f16 = block_gemm_impl<uint16_t>;

}  // namespace ccinfer::kernels::avx2
