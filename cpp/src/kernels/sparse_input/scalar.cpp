// y[c] = (bias[c] or 0) + sum_t nz_value[t] * Wt[nz_index[t], c], the terms added in order
// t = 0, 1, ...: the reference every SIMD variant is tested against.
#include "sparse_input.h"

namespace ccinfer::kernels::scalar {
namespace {

void cols_reference(const float* wt, int64_t ldwt, const int32_t* nz_index, const float* nz_value,
                    int64_t nnz, int64_t c0, int64_t c1, const float* bias, float* out) {
    for (int64_t c = c0; c < c1; ++c) out[c] = bias ? bias[c] : 0.0f;
    for (int64_t t = 0; t < nnz; ++t) {
        const float v = nz_value[t];
        const float* wr = wt + nz_index[t] * ldwt;
        for (int64_t c = c0; c < c1; ++c) out[c] += v * wr[c];
    }
}

void rows_reference(const float* wt, int64_t ldwt, int64_t m, const int32_t* nz_index,
                    const float* nz_value, int64_t nnz, const int32_t* rows, int64_t nrows,
                    const float* bias, float* out) {
    for (int64_t i = 0; i < nrows; ++i) {
        const int32_t c = rows[i];
        float acc = bias ? bias[c] : 0.0f;
        for (int64_t t = 0; t < nnz; ++t) acc += nz_value[t] * wt[nz_index[t] * ldwt + c];
        out[c] = acc;
    }
}

}  // namespace

const SparseInputColsFn sparse_input_cols = cols_reference;
const SparseInputRowsFn sparse_input_rows = rows_reference;

}  // namespace ccinfer::kernels::scalar
