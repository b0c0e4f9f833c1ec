#pragma once
/// Input-sparse matrix-vector products: skip the zero entries of x (a ReLU output) by reading
/// only the rows of the transposed weights Wt that they multiply (docs/design.md section 1).

#include <cstdint>

namespace ccinfer {

/// out[c] = (bias[c] or 0) + sum_{j < k, x[j] != 0} x[j] * Wt[j, c] for every c < m, i.e.
/// out = W x + bias for W = Wt^T, reading only the rows of Wt with x[j] != 0.
///  - Wt is (k, m) row-major with row stride ldwt >= m; x has k entries; bias (or nullptr)
///    and out have m.
///  - The terms are added in increasing j, one FMA each (scalar: multiply, then add).
///  - out must not alias Wt, x or bias.
/// Threads: each thread owns a slice of out (64-column aligned), so there is no reduction and
/// results are identical for every thread count.
void sparse_input_gemv(const float* wt, int64_t k, int64_t m, int64_t ldwt, const float* x,
                       const float* bias, float* out);

/// The same value for out[rows[i]], i < nrows, only; other entries of out are untouched.
/// rows is strictly increasing in [0, m) (std::invalid_argument otherwise). The rows are
/// computed in 64-column groups (32 for AVX2), so this pays off when the row set is sparse
/// at that granularity; out[rows] equals sparse_input_gemv's bit for bit.
void sparse_input_gemv_rows(const float* wt, int64_t k, int64_t m, int64_t ldwt, const float* x,
                            const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// Writes the j < k with x[j] != 0 (NaN counts as non-zero), ascending, to index and x[j] to
/// value (room for k each) and returns their number.
int64_t gather_nonzero(const float* x, int64_t k, int32_t* index, float* value);

/// sparse_input_gemv with the non-zeros of x already gathered (index ascending in [0, k)).
/// rows == nullptr: all m outputs; else the nrows listed (not checked here).
void sparse_input_gemv_nz(const float* wt, int64_t m, int64_t ldwt, const int32_t* nz_index,
                          const float* nz_value, int64_t nnz, const int32_t* rows, int64_t nrows,
                          const float* bias, float* out);

}  // namespace ccinfer
