// AVX2+FMA input-sparse product; the structure of avx512.cpp with 8-wide vectors and
// 32-column groups. Tails use masked loads and stores (never a scalar loop), so every column
// is the same FMA chain y = bias (or 0), y = fma(v_t, Wt[j_t, c], y) whatever the split.
#include <immintrin.h>

#include "sparse_input.h"

namespace ccinfer::kernels::avx2 {
namespace {

constexpr int64_t kNoPrefetchSlice = 2048;  // longer slices: hardware prefetcher (gemv_rows)

inline __m256i lanes(int64_t n) {  // the first min(max(n, 0), 8) lanes set
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int32_t c = n >= 8 ? 8 : n <= 0 ? 0 : static_cast<int32_t>(n);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), idx);
}

template <bool kPrefetch>
void cols_impl(const float* wt, int64_t ldwt, const int32_t* nz_index, const float* nz_value,
               int64_t nnz, int64_t c0, int64_t c1, const float* bias, float* out) {
    const int64_t c8 = c0 + ((c1 - c0) & ~int64_t{7});
    const bool has_tail = c8 < c1;
    const __m256i tail = lanes(c1 - c8);
    for (int64_t c = c0; c < c8; c += 8)
        _mm256_storeu_ps(out + c, bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps());
    if (has_tail)
        _mm256_maskstore_ps(out + c8, tail,
                            bias ? _mm256_maskload_ps(bias + c8, tail) : _mm256_setzero_ps());
    int64_t t = 0;
    for (; t + 4 <= nnz; t += 4) {
        const float* w0 = wt + nz_index[t] * ldwt;
        const float* w1 = wt + nz_index[t + 1] * ldwt;
        const float* w2 = wt + nz_index[t + 2] * ldwt;
        const float* w3 = wt + nz_index[t + 3] * ldwt;
        const int64_t n = t + 8 <= nnz ? t + 4 : (nnz - 4 > t ? nnz - 4 : t);
        const float* p0 = wt + nz_index[n] * ldwt;
        const float* p1 = wt + nz_index[n + 1] * ldwt;
        const float* p2 = wt + nz_index[n + 2] * ldwt;
        const float* p3 = wt + nz_index[n + 3] * ldwt;
        const __m256 v0 = _mm256_set1_ps(nz_value[t]), v1 = _mm256_set1_ps(nz_value[t + 1]);
        const __m256 v2 = _mm256_set1_ps(nz_value[t + 2]), v3 = _mm256_set1_ps(nz_value[t + 3]);
        for (int64_t c = c0; c < c8; c += 8) {
            if (kPrefetch && ((c - c0) & 15) == 0) {
                _mm_prefetch(reinterpret_cast<const char*>(p0 + c), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(p1 + c), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(p2 + c), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(p3 + c), _MM_HINT_T0);
            }
            __m256 y = _mm256_loadu_ps(out + c);
            y = _mm256_fmadd_ps(v0, _mm256_loadu_ps(w0 + c), y);
            y = _mm256_fmadd_ps(v1, _mm256_loadu_ps(w1 + c), y);
            y = _mm256_fmadd_ps(v2, _mm256_loadu_ps(w2 + c), y);
            y = _mm256_fmadd_ps(v3, _mm256_loadu_ps(w3 + c), y);
            _mm256_storeu_ps(out + c, y);
        }
        if (has_tail) {
            __m256 y = _mm256_maskload_ps(out + c8, tail);
            y = _mm256_fmadd_ps(v0, _mm256_maskload_ps(w0 + c8, tail), y);
            y = _mm256_fmadd_ps(v1, _mm256_maskload_ps(w1 + c8, tail), y);
            y = _mm256_fmadd_ps(v2, _mm256_maskload_ps(w2 + c8, tail), y);
            y = _mm256_fmadd_ps(v3, _mm256_maskload_ps(w3 + c8, tail), y);
            _mm256_maskstore_ps(out + c8, tail, y);
        }
    }
    for (; t < nnz; ++t) {
        const float* w0 = wt + nz_index[t] * ldwt;
        const __m256 v0 = _mm256_set1_ps(nz_value[t]);
        for (int64_t c = c0; c < c8; c += 8)
            _mm256_storeu_ps(out + c,
                             _mm256_fmadd_ps(v0, _mm256_loadu_ps(w0 + c), _mm256_loadu_ps(out + c)));
        if (has_tail)
            _mm256_maskstore_ps(out + c8, tail,
                                _mm256_fmadd_ps(v0, _mm256_maskload_ps(w0 + c8, tail),
                                                _mm256_maskload_ps(out + c8, tail)));
    }
}

}  // namespace

void sparse_input_cols(const float* wt, int64_t ldwt, const int32_t* nz_index,
                       const float* nz_value, int64_t nnz, int64_t c0, int64_t c1,
                       const float* bias, float* out) {
    if (c1 - c0 < kNoPrefetchSlice)
        cols_impl<true>(wt, ldwt, nz_index, nz_value, nnz, c0, c1, bias, out);
    else
        cols_impl<false>(wt, ldwt, nz_index, nz_value, nnz, c0, c1, bias, out);
}

void sparse_input_rows(const float* wt, int64_t ldwt, int64_t m, const int32_t* nz_index,
                       const float* nz_value, int64_t nnz, const int32_t* rows, int64_t nrows,
                       const float* bias, float* out) {
    int64_t i = 0;
    while (i < nrows) {
        const int64_t g0 = rows[i] & ~int64_t{31};  // the 32-column group of this row
        const __m256i k0 = lanes(m - g0), k1 = lanes(m - g0 - 8);
        const __m256i k2 = lanes(m - g0 - 16), k3 = lanes(m - g0 - 24);
        __m256 y0, y1, y2, y3;
        if (bias) {
            y0 = _mm256_maskload_ps(bias + g0, k0);
            y1 = _mm256_maskload_ps(bias + g0 + 8, k1);
            y2 = _mm256_maskload_ps(bias + g0 + 16, k2);
            y3 = _mm256_maskload_ps(bias + g0 + 24, k3);
        } else {
            y0 = y1 = y2 = y3 = _mm256_setzero_ps();
        }
        for (int64_t t = 0; t < nnz; ++t) {
            const float* w0 = wt + nz_index[t] * ldwt + g0;
            const __m256 v = _mm256_set1_ps(nz_value[t]);
            y0 = _mm256_fmadd_ps(v, _mm256_maskload_ps(w0, k0), y0);
            y1 = _mm256_fmadd_ps(v, _mm256_maskload_ps(w0 + 8, k1), y1);
            y2 = _mm256_fmadd_ps(v, _mm256_maskload_ps(w0 + 16, k2), y2);
            y3 = _mm256_fmadd_ps(v, _mm256_maskload_ps(w0 + 24, k3), y3);
        }
        alignas(32) float y[32];
        _mm256_store_ps(y, y0);
        _mm256_store_ps(y + 8, y1);
        _mm256_store_ps(y + 16, y2);
        _mm256_store_ps(y + 24, y3);
        for (; i < nrows && rows[i] < g0 + 32; ++i) out[rows[i]] = y[rows[i] - g0];
    }
}

}  // namespace ccinfer::kernels::avx2
