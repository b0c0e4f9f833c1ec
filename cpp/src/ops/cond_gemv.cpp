#include "ccinfer/cond_gemv.h"

#include <omp.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "../kernels/table.h"
#include "ccinfer/blas.h"
#include "ccinfer/check.h"
#include "ccinfer/threads.h"

namespace ccinfer {

void check_rows(const char* func, const int32_t* rows, int64_t nrows, int64_t m) {
    int64_t prev = -1;
    for (int64_t i = 0; i < nrows; ++i) {
        const int64_t r = rows[i];
        CCINFER_CHECK(r >= 0 && r < m, func, ": rows[", i, "] = ", r, " is out of range [0, ", m,
                      ")");
        CCINFER_CHECK(r > prev, func,
                      ": rows must be strictly increasing (sorted, distinct), got rows[", i - 1,
                      "] = ", prev, ", rows[", i, "] = ", r);
        prev = r;
    }
}

int64_t mask_to_rows(const uint8_t* mask, int64_t m, int32_t* rows_out) {
    int64_t n = 0;
    for (int64_t i = 0; i < m; ++i) {  // branch-free: a random mask defeats the predictor
        rows_out[n] = static_cast<int32_t>(i);
        n += mask[i] != 0;
    }
    return n;
}

bool cond_gemv_uses_dense(int64_t m, int64_t k, int64_t nrows) {
    return m > 0 && k > 0 && m * k * int64_t{4} <= kCondGemvDenseMaxBytes &&
           static_cast<double>(nrows) >= kCondGemvDenseDensity * static_cast<double>(m);
}

void cond_gemv_unchecked(const float* w, int64_t k, int64_t ldw, const float* x,
                         const int32_t* rows, int64_t nrows, const float* bias, float* out) {
    const auto gemv_rows = kernels::active().gemv_rows;
    const int nth = threads_for_work(nrows * k);
    if (nth <= 1) {
        gemv_rows(w, ldw, k, x, rows, nrows, bias, out);
        return;
    }
#pragma omp parallel num_threads(nth)
    {
        // Static share of rows per thread: each row is computed by exactly one thread with the
        // same kernel, so the result does not depend on the thread count.
        const int ith = omp_get_thread_num();
        const int64_t begin = nrows * ith / nth;
        const int64_t end = nrows * (ith + 1) / nth;
        gemv_rows(w, ldw, k, x, rows + begin, end - begin, bias, out);
    }
}

namespace {

// High density: one sgemv over all rows (outside any OpenMP region), then keep the rows asked
// for. OpenBLAS splits sgemv by output rows, each a whole dot product, so its result too is
// the same for every thread count.
void cond_gemv_dense(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
                     const int32_t* rows, int64_t nrows, const float* bias, float* out) {
    if (nrows == m) {  // every row: straight into out, bias as beta * out
        if (bias)
            for (int64_t i = 0; i < m; ++i) out[i] = bias[i];
        CCINFER_BLAS(cblas_sgemv)(blas::kRowMajor, blas::kNoTrans, m, k, 1.0f, w, ldw, x, 1,
                                  bias ? 1.0f : 0.0f, out, 1);
        return;
    }
    thread_local std::vector<float> scratch;
    if (static_cast<int64_t>(scratch.size()) < m) scratch.resize(m);
    float* y = scratch.data();
    CCINFER_BLAS(cblas_sgemv)(blas::kRowMajor, blas::kNoTrans, m, k, 1.0f, w, ldw, x, 1, 0.0f, y,
                              1);
    for (int64_t i = 0; i < nrows; ++i) {
        const int32_t r = rows[i];
        out[r] = bias ? y[r] + bias[r] : y[r];
    }
}

}  // namespace

void cond_gemv(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
               const int32_t* rows, int64_t nrows, const float* bias, float* out) {
    CCINFER_CHECK(m >= 0 && k >= 0 && ldw >= k, "cond_gemv: need m >= 0, k >= 0, ldw >= k");
    check_rows("cond_gemv", rows, nrows, m);
    cond_gemv_prechecked(w, m, k, ldw, x, rows, nrows, bias, out);
}

void cond_gemv_prechecked(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
                          const int32_t* rows, int64_t nrows, const float* bias, float* out) {
    if (cond_gemv_uses_dense(m, k, nrows))
        cond_gemv_dense(w, m, k, ldw, x, rows, nrows, bias, out);
    else
        cond_gemv_unchecked(w, k, ldw, x, rows, nrows, bias, out);
}

void cond_gemv_mask(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
                    const uint8_t* mask, const float* bias, float* out) {
    CCINFER_CHECK(m >= 0 && k >= 0 && ldw >= k, "cond_gemv: need m >= 0, k >= 0, ldw >= k");
    thread_local std::vector<int32_t> rows;  // reused: no allocation per call
    if (static_cast<int64_t>(rows.size()) < m) rows.resize(m);
    const int64_t nrows = mask_to_rows(mask, m, rows.data());
    cond_gemv_prechecked(w, m, k, ldw, x, rows.data(), nrows, bias, out);
}

}  // namespace ccinfer
