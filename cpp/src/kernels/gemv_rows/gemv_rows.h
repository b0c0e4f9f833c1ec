#pragma once
// gemv over a row list, written once over a vector layer S (simd/*.h): four rows at a time
// share each load of x. A row's sum is the same sequence whether it is computed in a block of
// four or alone (kAcc accumulators over alternate vector steps, added, the whole vectors left,
// the horizontal sum, the tail of k as kTail: dot_tail.h), so the result never depends on how
// rows are split between threads. The row list is known ahead, so while one block is
// multiplied the next block's rows are prefetched (the hardware stream prefetcher restarts at
// every jump to a new row).
#include "../dot_tail.h"
#include "../preconditions.h"
#include "../table.h"

namespace ccinfer::kernels {

// Rows at least this long (floats) are left to the hardware prefetcher: it follows a long
// row on its own, and the extra prefetch instructions cost more than they save (4096x4096
// from DRAM on Zen 4: 1.49 ms without, 1.7-1.8 ms with software prefetch; 1024x1024 from L3:
// 48 us without, 45 us with).
constexpr int64_t kGemvRowsNoPrefetchRowLength = 2048;

// s[r] = dot(wr[r][0:k], x) for r < R; with kPrefetch, the rows pf[r] are prefetched one
// line per row and 64 bytes of weights.
template <class S, int kAcc, DotTail kTail, bool kPrefetch, int R, typename Wt>
inline void dot_rows(const Wt* const* wr, const char* const* pf, int64_t k, const float* x,
                     float* s) {
    using V = typename S::V;
    constexpr int64_t W = S::kWidth;
    constexpr int64_t kStep = kAcc * W;
    const int64_t kb = k & ~(kStep - 1);
    const int64_t kw = k & ~(W - 1);
    V acc[R][kAcc];
    for (int r = 0; r < R; ++r)
        for (int a = 0; a < kAcc; ++a) acc[r][a] = S::zero();
    for (int64_t j = 0; j < kb; j += kStep) {
        if (kPrefetch && j % (64 / sizeof(Wt)) == 0)
            for (int r = 0; r < R; ++r) S::prefetch(pf[r] + sizeof(Wt) * j);
        V xv[kAcc];
        for (int a = 0; a < kAcc; ++a) xv[a] = S::load(x + j + a * W);
        for (int r = 0; r < R; ++r)
            for (int a = 0; a < kAcc; ++a)
                acc[r][a] = S::fma(S::load(wr[r] + j + a * W), xv[a], acc[r][a]);
    }
    // Each row finished in registers (unrolled: a loop over rows here kept its sums on the
    // stack, 3-4% slower on AVX2): the accumulators added, the whole vector left (fewer than
    // kAcc), the tail.
    const bool masked_tail = kTail == DotTail::kMasked && kw < k;
    const typename S::Mask tail = S::first(k - kw);
    if (kPrefetch && masked_tail)
        for (int r = 0; r < R; ++r) S::prefetch(pf[r] + sizeof(Wt) * kw);
    const V xt = masked_tail ? S::load(tail, x + kw) : S::zero();
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        V sum = acc[r][0];
        for (int a = 1; a < kAcc; ++a) sum = S::add(sum, acc[r][a]);
        for (int64_t j = kb, a = 0; a + 1 < kAcc; j += W, ++a)
            if (j < kw) sum = S::fma(S::load(wr[r] + j), S::load(x + j), sum);
        if (masked_tail) sum = S::fma(S::load(tail, wr[r] + kw), xt, sum);
        s[r] = S::reduce(sum);
        if (kTail == DotTail::kScalar) s[r] = dot_tail(wr[r], x, kw, k, s[r]);
    }
}

template <class S, int kAcc, DotTail kTail, bool kPrefetch, typename Wt>
void gemv_rows_body(const Wt* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
                    int64_t nrows, const float* bias, float* out) {
    int64_t i = 0;
    for (; i + 4 <= nrows; i += 4) {
        const Wt* wr[4];
        const char* pf[4];
        // Rows of the next block (this block's again at the end: prefetching them is harmless).
        const int64_t n = i + 8 <= nrows ? i + 4 : (nrows - 4 > i ? nrows - 4 : i);
        for (int r = 0; r < 4; ++r) {
            wr[r] = w + rows[i + r] * ldw;
            pf[r] = reinterpret_cast<const char*>(w + rows[n + r] * ldw);
        }
        float s[4];
        dot_rows<S, kAcc, kTail, kPrefetch, 4>(wr, pf, k, x, s);
        for (int r = 0; r < 4; ++r) {
            const int32_t row = rows[i + r];
            out[row] = bias ? s[r] + bias[row] : s[r];
        }
    }
    for (; i < nrows; ++i) {
        const int32_t row = rows[i];
        const Wt* wr[1] = {w + row * ldw};
        float s;
        dot_rows<S, kAcc, kTail, false, 1>(wr, nullptr, k, x, &s);
        out[row] = bias ? s + bias[row] : s;
    }
}

/// kAcc accumulators per row (enough FMA chains in flight: 4 rows x kAcc).
template <class S, int kAcc, DotTail kTail, typename Wt>
void gemv_rows(const Wt* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
               int64_t nrows, const float* bias, float* out) {
    CCINFER_DCHECK(k >= 0 && ldw >= k && nrows >= 0);
    CCINFER_DCHECK(indices_in_range(rows, nrows, kAnyIndex));
    if (k < kGemvRowsNoPrefetchRowLength)
        gemv_rows_body<S, kAcc, kTail, true>(w, ldw, k, x, rows, nrows, bias, out);
    else
        gemv_rows_body<S, kAcc, kTail, false>(w, ldw, k, x, rows, nrows, bias, out);
}

}  // namespace ccinfer::kernels
