#pragma once
// The input-sparse product written once over a vector layer S (simd/*.h). Every output column
// is the chain y = bias (or 0), then y = fma(v_t, Wt[j_t, c], y) for t = 0, 1, ...: the same
// in both kernels and for any column split, so results do not depend on the thread count or
// on the row set. Tails are masked loads and stores, never a scalar loop.
//  - sparse_input_cols: axpy of four weight rows at a time over a column slice (one load and
//    store of y per four FMAs; each weight row is streamed contiguously).
//  - sparse_input_rows: for each group of four vectors of columns holding a requested row,
//    four accumulators in registers over all non-zero inputs, then only the requested rows
//    are stored.
#include "../preconditions.h"
#include "../table.h"

namespace ccinfer::kernels {

// Slices at least this long (floats) are left to the hardware prefetcher (as in gemv_rows).
constexpr int64_t kSparseInputNoPrefetchSlice = 2048;

template <class S, bool kPrefetch>
void sparse_input_cols_body(const float* wt, int64_t ldwt, const int32_t* nz_index,
                            const float* nz_value, int64_t nnz, int64_t c0, int64_t c1,
                            const float* bias, float* out) {
    using V = typename S::V;
    constexpr int64_t W = S::kWidth;
    const int64_t cw = c0 + ((c1 - c0) & ~(W - 1));
    const bool has_tail = cw < c1;
    const typename S::Mask tail = S::first(c1 - cw);
    for (int64_t c = c0; c < cw; c += W) S::store(out + c, bias ? S::load(bias + c) : S::zero());
    if (has_tail) S::store(tail, out + cw, bias ? S::load(tail, bias + cw) : S::zero());
    int64_t t = 0;
    for (; t + 4 <= nnz; t += 4) {
        const float* w[4];
        const float* pf[4];  // the next block's rows (this block's again at the end)
        const int64_t n = t + 8 <= nnz ? t + 4 : (nnz - 4 > t ? nnz - 4 : t);
        V v[4];
        for (int q = 0; q < 4; ++q) {
            w[q] = wt + nz_index[t + q] * ldwt;
            pf[q] = wt + nz_index[n + q] * ldwt;
            v[q] = S::set1(nz_value[t + q]);
        }
        for (int64_t c = c0; c < cw; c += W) {
            if (kPrefetch && ((c - c0) & 15) == 0)  // one per row and 64-byte line
                for (int q = 0; q < 4; ++q) S::prefetch(pf[q] + c);
            V y = S::load(out + c);
            for (int q = 0; q < 4; ++q) y = S::fma(v[q], S::load(w[q] + c), y);
            S::store(out + c, y);
        }
        if (has_tail) {
            V y = S::load(tail, out + cw);
            for (int q = 0; q < 4; ++q) y = S::fma(v[q], S::load(tail, w[q] + cw), y);
            S::store(tail, out + cw, y);
        }
    }
    for (; t < nnz; ++t) {
        const float* w0 = wt + nz_index[t] * ldwt;
        const V v0 = S::set1(nz_value[t]);
        for (int64_t c = c0; c < cw; c += W)
            S::store(out + c, S::fma(v0, S::load(w0 + c), S::load(out + c)));
        if (has_tail)
            S::store(tail, out + cw, S::fma(v0, S::load(tail, w0 + cw), S::load(tail, out + cw)));
    }
}

template <class S>
void sparse_input_cols(const float* wt, int64_t ldwt, const int32_t* nz_index,
                       const float* nz_value, int64_t nnz, int64_t c0, int64_t c1,
                       const float* bias, float* out) {
    CCINFER_DCHECK(0 <= c0 && c0 <= c1 && c1 <= ldwt && nnz >= 0);
    CCINFER_DCHECK(indices_in_range(nz_index, nnz, kAnyIndex));
    if (c1 - c0 < kSparseInputNoPrefetchSlice)
        sparse_input_cols_body<S, true>(wt, ldwt, nz_index, nz_value, nnz, c0, c1, bias, out);
    else
        sparse_input_cols_body<S, false>(wt, ldwt, nz_index, nz_value, nnz, c0, c1, bias, out);
}

template <class S>
void sparse_input_rows(const float* wt, int64_t ldwt, int64_t m, const int32_t* nz_index,
                       const float* nz_value, int64_t nnz, const int32_t* rows, int64_t nrows,
                       const float* bias, float* out) {
    // Rows are taken group by group in order: an unsorted list would index ys out of range.
    CCINFER_DCHECK(m <= ldwt && nnz >= 0 && rows_increasing(rows, nrows, m));
    CCINFER_DCHECK(indices_in_range(nz_index, nnz, kAnyIndex));
    using V = typename S::V;
    constexpr int64_t W = S::kWidth;
    constexpr int64_t kGroup = 4 * W;
    int64_t i = 0;
    while (i < nrows) {
        const int64_t g0 = rows[i] & ~(kGroup - 1);  // the column group of this row
        typename S::Mask k[4];
        V y[4];
        for (int q = 0; q < 4; ++q) {
            k[q] = S::first(m - g0 - W * q);
            y[q] = bias ? S::load(k[q], bias + g0 + W * q) : S::zero();
        }
        for (int64_t t = 0; t < nnz; ++t) {
            const float* w0 = wt + nz_index[t] * ldwt + g0;
            const V v = S::set1(nz_value[t]);
            for (int q = 0; q < 4; ++q) y[q] = S::fma(v, S::load(k[q], w0 + W * q), y[q]);
        }
        alignas(64) float ys[kGroup];
        for (int q = 0; q < 4; ++q) S::store(ys + W * q, y[q]);
        for (; i < nrows && rows[i] < g0 + kGroup; ++i) out[rows[i]] = ys[rows[i] - g0];
    }
}

}  // namespace ccinfer::kernels
