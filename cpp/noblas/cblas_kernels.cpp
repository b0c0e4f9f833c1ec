// CCINFER_BLAS=OFF: the few CBLAS entry points the core calls (ccinfer/blas.h), implemented on
// ccinfer's own gemv kernel, so the core needs no BLAS library. They are compiled with
// CCINFER_BLAS_PREFIX=ccinfer_noblas_ and an empty suffix: the names cannot clash with a real
// BLAS linked into the same program. Only the argument combinations the core passes are
// implemented (row-major; sgemv without transpose, sgemm as X W^T); anything else aborts with
// a message, since no caller in the core can reach it.
//
// Rounding: each output is gemv_rows' dot product, the kernel the multi-threaded CondMLP pass
// and the GRU already use, so a BLAS-free build gives the same bits as those paths (OpenBLAS'
// sgemv sums in another order).
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "ccinfer/blas.h"
#include "kernels/table.h"

namespace {

using ccinfer::blas::blas_int;

[[noreturn]] void unsupported(const char* fn) {
    std::fprintf(stderr,
                 "ccinfer (CCINFER_BLAS=OFF): %s called with arguments the core never "
                 "passes\n",
                 fn);
    std::abort();
}

const int32_t* iota(blas_int m) {
    thread_local std::vector<int32_t> rows;
    if (static_cast<blas_int>(rows.size()) < m) {
        rows.resize(static_cast<size_t>(m));
        std::iota(rows.begin(), rows.end(), 0);
    }
    return rows.data();
}

// y = W x (+ y when beta is 1) for one sample.
void gemv(const float* w, blas_int m, blas_int k, blas_int ldw, const float* x, float beta,
          float* y) {
    const auto gemv_rows = ccinfer::kernels::active().gemv_rows;
    if (beta == 0.0f) {
        gemv_rows(w, ldw, k, x, iota(m), m, nullptr, y);
        return;
    }
    thread_local std::vector<float> old;
    old.assign(y, y + m);  // the kernel adds a bias after the dot product: y's old values
    gemv_rows(w, ldw, k, x, iota(m), m, old.data(), y);
}

}  // namespace

extern "C" {

void CCINFER_BLAS(cblas_sgemv)(int order, int trans, blas_int m, blas_int n, float alpha,
                               const float* a, blas_int lda, const float* x, blas_int incx,
                               float beta, float* y, blas_int incy) {
    if (order != ccinfer::blas::kRowMajor || trans != ccinfer::blas::kNoTrans || alpha != 1.0f ||
        incx != 1 || incy != 1 || (beta != 0.0f && beta != 1.0f))
        unsupported("cblas_sgemv");
    gemv(a, m, n, lda, x, beta, y);
}

void CCINFER_BLAS(cblas_sgemm)(int order, int trans_a, int trans_b, blas_int m, blas_int n,
                               blas_int k, float alpha, const float* a, blas_int lda,
                               const float* b, blas_int ldb, float beta, float* c, blas_int ldc) {
    // C (m, n) = A (m, k) B^T with B (n, k): every row of C is one gemv of B with a row of A.
    if (order != ccinfer::blas::kRowMajor || trans_a != ccinfer::blas::kNoTrans ||
        trans_b != ccinfer::blas::kTrans || alpha != 1.0f || (beta != 0.0f && beta != 1.0f))
        unsupported("cblas_sgemm");
    const bool nested = omp_in_parallel();
#pragma omp parallel for schedule(static) if (!nested && m > 1)
    for (blas_int s = 0; s < m; ++s) gemv(b, n, k, ldb, a + s * lda, beta, c + s * ldc);
}

void CCINFER_BLAS(openblas_set_num_threads)(int) {}
int CCINFER_BLAS(openblas_get_num_threads)(void) { return omp_get_max_threads(); }
char* CCINFER_BLAS(openblas_get_config)(void) {
    static char config[] = "none (CCINFER_BLAS=OFF: ccinfer's own gemv kernel)";
    return config;
}
char* CCINFER_BLAS(openblas_get_corename)(void) {
    static char name[] = "none";
    return name;
}

}  // extern "C"
