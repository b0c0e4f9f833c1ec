#include "ccinfer/dense.h"

#include "ccinfer/blas.h"

namespace ccinfer {

void dense_gemv(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x, float* y) {
    CCINFER_BLAS(cblas_sgemv)(blas::kRowMajor, blas::kNoTrans, m, k, 1.0f, w, ldw, x, 1, 0.0f, y,
                              1);
}

void dense_gemm(const float* w, int64_t m, int64_t k, const float* x, int64_t n, float* y) {
    // Y (n, m) = X (n, k) * W^T (k, m)
    CCINFER_BLAS(cblas_sgemm)(blas::kRowMajor, blas::kNoTrans, blas::kTrans, n, m, k, 1.0f, x, k, w,
                              k, 0.0f, y, m);
}

}  // namespace ccinfer
