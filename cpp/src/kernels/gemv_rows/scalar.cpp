// out[rows[i]] = sum_j W[rows[i], j] * x[j] (+ bias[rows[i]]): the reference every SIMD
// variant is tested against. Half weights are widened (exactly) and summed in the same order.
#include "ccinfer/half.h"
#include "gemv_rows.h"

namespace ccinfer::kernels::scalar {
namespace {

template <typename W>
void gemv_rows_impl(const W* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
                    int64_t nrows, const float* bias, float* out) {
    for (int64_t i = 0; i < nrows; ++i) {
        const int32_t row = rows[i];
        const W* wr = w + row * ldw;
        float acc = 0.0f;
        for (int64_t j = 0; j < k; ++j) acc += widen(wr[j]) * x[j];
        out[row] = bias ? acc + bias[row] : acc;
    }
}

}  // namespace

const GemvRowsFn gemv_rows = gemv_rows_impl<float>;
const GemvRowsF16Fn gemv_rows_f16 = gemv_rows_impl<uint16_t>;

}  // namespace ccinfer::kernels::scalar
