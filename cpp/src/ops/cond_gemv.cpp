#include "ccinfer/cond_gemv.h"

#include <omp.h>

#include <stdexcept>
#include <string>

#include "ccinfer/threads.h"
#include "../kernels/table.h"

namespace ccinfer {

void check_rows(const char* func, const int32_t* rows, int64_t nrows, int64_t m) {
    int64_t prev = -1;
    for (int64_t i = 0; i < nrows; ++i) {
        const int64_t r = rows[i];
        if (r < 0 || r >= m)
            throw std::invalid_argument(std::string(func) + ": rows[" + std::to_string(i) +
                                        "] = " + std::to_string(r) + " is out of range [0, " +
                                        std::to_string(m) + ")");
        if (r <= prev)
            throw std::invalid_argument(std::string(func) +
                                        ": rows must be strictly increasing (sorted, distinct), "
                                        "got rows[" + std::to_string(i - 1) + "] = " +
                                        std::to_string(prev) + ", rows[" + std::to_string(i) +
                                        "] = " + std::to_string(r));
        prev = r;
    }
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

void cond_gemv(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
               const int32_t* rows, int64_t nrows, const float* bias, float* out) {
    if (m < 0 || k < 0 || ldw < k)
        throw std::invalid_argument("cond_gemv: need m >= 0, k >= 0, ldw >= k");
    check_rows("cond_gemv", rows, nrows, m);
    cond_gemv_unchecked(w, k, ldw, x, rows, nrows, bias, out);
}

}  // namespace ccinfer
