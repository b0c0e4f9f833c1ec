// out[rows[i]] = sum_j W[rows[i], j] * x[j] (+ bias[rows[i]]): the reference every SIMD
// variant is tested against.
#include "gemv_rows.h"

namespace ccinfer::kernels::scalar {

void gemv_rows(const float* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
               int64_t nrows, const float* bias, float* out) {
    for (int64_t i = 0; i < nrows; ++i) {
        const int32_t row = rows[i];
        const float* wr = w + row * ldw;
        float acc = 0.0f;
        for (int64_t j = 0; j < k; ++j) acc += wr[j] * x[j];
        out[row] = bias ? acc + bias[row] : acc;
    }
}

}  // namespace ccinfer::kernels::scalar
