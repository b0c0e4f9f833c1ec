// AVX-512 input-sparse product. Every output column is the chain y = bias (or 0), then
// y = fma(v_t, Wt[j_t, c], y) for t = 0, 1, ...: the same in both kernels and for any column
// split, so results do not depend on the thread count or on the row set.
//  - sparse_input_cols: axpy of four weight rows at a time over a column slice (one load and
//    store of y per four FMAs; each weight row is streamed contiguously).
//  - sparse_input_rows: for each 64-column group holding a requested row, four accumulators
//    in registers over all non-zero inputs, then only the requested rows are stored.
#include <immintrin.h>

#include "sparse_input.h"

namespace ccinfer::kernels::avx512 {
namespace {

constexpr int64_t kNoPrefetchSlice = 2048;  // longer slices: hardware prefetcher (gemv_rows)

inline __mmask16 lanes(int64_t n) {  // the first min(max(n, 0), 16) lanes
    return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}

template <bool kPrefetch>
void cols_impl(const float* wt, int64_t ldwt, const int32_t* nz_index, const float* nz_value,
               int64_t nnz, int64_t c0, int64_t c1, const float* bias, float* out) {
    const int64_t c16 = c0 + ((c1 - c0) & ~int64_t{15});
    const __mmask16 tail = lanes(c1 - c16);
    for (int64_t c = c0; c < c16; c += 16)
        _mm512_storeu_ps(out + c, bias ? _mm512_loadu_ps(bias + c) : _mm512_setzero_ps());
    if (tail)
        _mm512_mask_storeu_ps(out + c16, tail,
                              bias ? _mm512_maskz_loadu_ps(tail, bias + c16) : _mm512_setzero_ps());
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
        const __m512 v0 = _mm512_set1_ps(nz_value[t]), v1 = _mm512_set1_ps(nz_value[t + 1]);
        const __m512 v2 = _mm512_set1_ps(nz_value[t + 2]), v3 = _mm512_set1_ps(nz_value[t + 3]);
        for (int64_t c = c0; c < c16; c += 16) {
            if (kPrefetch) {
                _mm_prefetch(reinterpret_cast<const char*>(p0 + c), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(p1 + c), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(p2 + c), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(p3 + c), _MM_HINT_T0);
            }
            __m512 y = _mm512_loadu_ps(out + c);
            y = _mm512_fmadd_ps(v0, _mm512_loadu_ps(w0 + c), y);
            y = _mm512_fmadd_ps(v1, _mm512_loadu_ps(w1 + c), y);
            y = _mm512_fmadd_ps(v2, _mm512_loadu_ps(w2 + c), y);
            y = _mm512_fmadd_ps(v3, _mm512_loadu_ps(w3 + c), y);
            _mm512_storeu_ps(out + c, y);
        }
        if (tail) {
            __m512 y = _mm512_maskz_loadu_ps(tail, out + c16);
            y = _mm512_fmadd_ps(v0, _mm512_maskz_loadu_ps(tail, w0 + c16), y);
            y = _mm512_fmadd_ps(v1, _mm512_maskz_loadu_ps(tail, w1 + c16), y);
            y = _mm512_fmadd_ps(v2, _mm512_maskz_loadu_ps(tail, w2 + c16), y);
            y = _mm512_fmadd_ps(v3, _mm512_maskz_loadu_ps(tail, w3 + c16), y);
            _mm512_mask_storeu_ps(out + c16, tail, y);
        }
    }
    for (; t < nnz; ++t) {
        const float* w0 = wt + nz_index[t] * ldwt;
        const __m512 v0 = _mm512_set1_ps(nz_value[t]);
        for (int64_t c = c0; c < c16; c += 16)
            _mm512_storeu_ps(out + c,
                             _mm512_fmadd_ps(v0, _mm512_loadu_ps(w0 + c), _mm512_loadu_ps(out + c)));
        if (tail)
            _mm512_mask_storeu_ps(out + c16, tail,
                                  _mm512_fmadd_ps(v0, _mm512_maskz_loadu_ps(tail, w0 + c16),
                                                  _mm512_maskz_loadu_ps(tail, out + c16)));
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
        const int64_t g0 = rows[i] & ~int64_t{63};  // the 64-column group of this row
        const __mmask16 k0 = lanes(m - g0), k1 = lanes(m - g0 - 16);
        const __mmask16 k2 = lanes(m - g0 - 32), k3 = lanes(m - g0 - 48);
        __m512 y0, y1, y2, y3;
        if (bias) {
            y0 = _mm512_maskz_loadu_ps(k0, bias + g0);
            y1 = _mm512_maskz_loadu_ps(k1, bias + g0 + 16);
            y2 = _mm512_maskz_loadu_ps(k2, bias + g0 + 32);
            y3 = _mm512_maskz_loadu_ps(k3, bias + g0 + 48);
        } else {
            y0 = y1 = y2 = y3 = _mm512_setzero_ps();
        }
        for (int64_t t = 0; t < nnz; ++t) {
            const float* w0 = wt + nz_index[t] * ldwt + g0;
            const __m512 v = _mm512_set1_ps(nz_value[t]);
            y0 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(k0, w0), y0);
            y1 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(k1, w0 + 16), y1);
            y2 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(k2, w0 + 32), y2);
            y3 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(k3, w0 + 48), y3);
        }
        alignas(64) float y[64];
        _mm512_store_ps(y, y0);
        _mm512_store_ps(y + 16, y1);
        _mm512_store_ps(y + 32, y2);
        _mm512_store_ps(y + 48, y3);
        for (; i < nrows && rows[i] < g0 + 64; ++i) out[rows[i]] = y[rows[i] - g0];
    }
}

}  // namespace ccinfer::kernels::avx512
