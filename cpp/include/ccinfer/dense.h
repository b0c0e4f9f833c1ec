#pragma once
/// Dense baselines: OpenBLAS sgemv / sgemm on ccinfer's layout. Every speed-up ccinfer reports
/// is measured against these, on the same weights, in the same run.

#include <cstdint>

namespace ccinfer {

/// y = W x.  W is (m, k) row-major with row stride ldw >= k; x has k entries, y has m.
/// y must not alias W or x. Runs OpenBLAS at ccinfer's thread count. m, k >= 1.
void dense_gemv(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x, float* y);

/// Y = X W^T.  W is (m, k) row-major, X is (n, k) row-major, Y is (n, m) row-major.
/// Y must not alias W or X. m, k, n >= 1.
void dense_gemm(const float* w, int64_t m, int64_t k, const float* x, int64_t n, float* y);

}  // namespace ccinfer
