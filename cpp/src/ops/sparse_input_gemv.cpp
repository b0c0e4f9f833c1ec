#include "ccinfer/sparse_input_gemv.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/cond_gemv.h"
#include "ccinfer/threads.h"

namespace ccinfer {
namespace {

void check_dims(int64_t k, int64_t m, int64_t ldwt) {
    CCINFER_CHECK(m >= 0 && k >= 0 && ldwt >= m,
                  "sparse_input_gemv: need m >= 0, k >= 0, ldwt >= m");
}

struct NonZeros {
    std::vector<int32_t> index;
    std::vector<float> value;
};

// Per calling thread, reused across calls: no allocation once warm.
NonZeros& workspace(int64_t k) {
    thread_local NonZeros nz;
    if (static_cast<int64_t>(nz.index.size()) < k) {
        nz.index.resize(k);
        nz.value.resize(k);
    }
    return nz;
}

}  // namespace

int64_t gather_nonzero(const float* x, int64_t k, int32_t* index, float* value) {
    int64_t n = 0;
    for (int64_t j = 0; j < k; ++j) {  // branch-free: the zero pattern is unpredictable
        index[n] = static_cast<int32_t>(j);
        value[n] = x[j];
        n += !(x[j] == 0.0f);
    }
    return n;
}

void sparse_input_gemv_nz(const float* wt, int64_t m, int64_t ldwt, const int32_t* nz_index,
                          const float* nz_value, int64_t nnz, const int32_t* rows, int64_t nrows,
                          const float* bias, float* out) {
    const auto& table = kernels::active();
    if (!rows || nrows == m) {  // all outputs (every row listed is all of them, in order)
        const int nth = threads_for_work(nnz * m);
        if (nth <= 1) {
            table.sparse_input_cols(wt, ldwt, nz_index, nz_value, nnz, 0, m, bias, out);
            return;
        }
#pragma omp parallel num_threads(nth)
        {
            const int ith = omp_get_thread_num();
            const int64_t c0 = aligned_slice_start(m, ith, nth);
            const int64_t c1 = aligned_slice_start(m, ith + 1, nth);
            if (c1 > c0)
                table.sparse_input_cols(wt, ldwt, nz_index, nz_value, nnz, c0, c1, bias, out);
        }
        return;
    }
    // Work: about one 64-column group per requested row at low density, all of m at most.
    const int nth = threads_for_work(nnz * std::min(m, nrows * kSliceAlign));
    if (nth <= 1) {
        table.sparse_input_rows(wt, ldwt, m, nz_index, nz_value, nnz, rows, nrows, bias, out);
        return;
    }
#pragma omp parallel num_threads(nth)
    {
        const int ith = omp_get_thread_num();
        const int64_t c0 = aligned_slice_start(m, ith, nth);
        const int64_t c1 = aligned_slice_start(m, ith + 1, nth);
        const int32_t* b = std::lower_bound(rows, rows + nrows, c0);
        const int32_t* e = std::lower_bound(b, rows + nrows, c1);
        if (e > b)
            table.sparse_input_rows(wt, ldwt, m, nz_index, nz_value, nnz, b, e - b, bias, out);
    }
}

void sparse_input_gemv(const float* wt, int64_t k, int64_t m, int64_t ldwt, const float* x,
                       const float* bias, float* out) {
    check_dims(k, m, ldwt);
    NonZeros& nz = workspace(k);
    const int64_t nnz = gather_nonzero(x, k, nz.index.data(), nz.value.data());
    sparse_input_gemv_nz(wt, m, ldwt, nz.index.data(), nz.value.data(), nnz, nullptr, 0, bias, out);
}

void sparse_input_gemv_rows(const float* wt, int64_t k, int64_t m, int64_t ldwt, const float* x,
                            const int32_t* rows, int64_t nrows, const float* bias, float* out) {
    check_dims(k, m, ldwt);
    check_rows("sparse_input_gemv", rows, nrows, m);
    if (nrows == 0) return;
    NonZeros& nz = workspace(k);
    const int64_t nnz = gather_nonzero(x, k, nz.index.data(), nz.value.data());
    sparse_input_gemv_nz(wt, m, ldwt, nz.index.data(), nz.value.data(), nnz, rows, nrows, bias,
                         out);
}

}  // namespace ccinfer
