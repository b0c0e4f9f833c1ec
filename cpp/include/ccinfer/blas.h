#pragma once
/// The few CBLAS routines ccinfer calls, declared here rather than through a vendor cblas.h
/// (numpy's npy_cblas.h does the same). The scipy-openblas64 wheel exports ILP64 symbols
/// with a prefix and suffix, e.g. scipy_cblas_sgemv64_; CMake passes both in
/// CCINFER_BLAS_PREFIX / CCINFER_BLAS_SUFFIX after asking the installed package.

#include <cstdint>

#ifndef CCINFER_BLAS_PREFIX
#error "CCINFER_BLAS_PREFIX must be defined by the build (see cmake/ScipyOpenBLAS.cmake)"
#endif

#define CCINFER_BLAS_CAT3_(a, b, c) a##b##c
#define CCINFER_BLAS_CAT3(a, b, c) CCINFER_BLAS_CAT3_(a, b, c)
#define CCINFER_BLAS(name) CCINFER_BLAS_CAT3(CCINFER_BLAS_PREFIX, name, CCINFER_BLAS_SUFFIX)

namespace ccinfer::blas {

using blas_int = int64_t;  // ILP64

enum Order { kRowMajor = 101, kColMajor = 102 };
enum Transpose { kNoTrans = 111, kTrans = 112 };

}  // namespace ccinfer::blas

extern "C" {
void CCINFER_BLAS(cblas_sgemv)(int order, int trans, ccinfer::blas::blas_int m,
                               ccinfer::blas::blas_int n, float alpha, const float* a,
                               ccinfer::blas::blas_int lda, const float* x,
                               ccinfer::blas::blas_int incx, float beta, float* y,
                               ccinfer::blas::blas_int incy);
void CCINFER_BLAS(cblas_sgemm)(int order, int trans_a, int trans_b, ccinfer::blas::blas_int m,
                               ccinfer::blas::blas_int n, ccinfer::blas::blas_int k, float alpha,
                               const float* a, ccinfer::blas::blas_int lda, const float* b,
                               ccinfer::blas::blas_int ldb, float beta, float* c,
                               ccinfer::blas::blas_int ldc);
void CCINFER_BLAS(openblas_set_num_threads)(int n);
int CCINFER_BLAS(openblas_get_num_threads)(void);
char* CCINFER_BLAS(openblas_get_config)(void);
char* CCINFER_BLAS(openblas_get_corename)(void);
}
