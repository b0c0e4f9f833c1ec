#pragma once
/// Batched unstructured conditional products: every sample of a batch has its own set of
/// active output rows (docs/design.md section 2, the unstructured path run over a batch).

#include <cstdint>

namespace ccinfer {

/// Pair density (active (sample, row) pairs / (n m)) at and above which cond_gemv_batch
/// computes every product with the dense register-tiled block GEMM kernel (the one under
/// block_gated_gemm; not OpenBLAS, whose sum order changes with its thread count) and keeps
/// the active entries. Measured on the
/// 2-core AMD EPYC Zen 4 with n = 64 (bench/test_bench_cond_gemv.py,
/// docs/performance/kernels.md).
constexpr double kCondGemvBatchDenseDensity = 0.4;

/// out[s, i] = X[s, :] . W[i, :] (+ bias[i]) for every sample s < n and row i < m with
/// mask[s * m + i] != 0; every other entry of out is left untouched.
///  - W is (m, k) row-major, X is (n, k) row-major, mask is (n, m) bytes (numpy bool or
///    uint8), bias has m entries or is nullptr, out is (n, m) row-major.
///  - out must not alias W, X, mask or bias.
/// Each weight row is read once for all the samples that need it (from L1 for the second and
/// later samples), which is what makes this faster than n separate cond_gemv calls. The sum
/// order of an output depends on its row's sample set (blocks of four samples), so it may
/// differ from cond_gemv's in the last bits. Threads: static split of the rows of W; results
/// identical for every thread count.
void cond_gemv_batch(const float* w, int64_t m, int64_t k, const float* x, int64_t n,
                     const uint8_t* mask, const float* bias, float* out);
/// The same over binary16 weights (ccinfer/half.h): bit for bit the result over their
/// float32 values.
void cond_gemv_batch(const uint16_t* w, int64_t m, int64_t k, const float* x, int64_t n,
                     const uint8_t* mask, const float* bias, float* out);

/// cond_gemv_batch with the row sets as CSR row lists: the rows of sample s are
/// indices[indptr[s] : indptr[s + 1]], strictly increasing, in [0, m); indptr has n + 1
/// entries, indptr[0] == 0 and is non-decreasing. Throws std::invalid_argument otherwise.
void cond_gemv_batch_csr(const float* w, int64_t m, int64_t k, const float* x, int64_t n,
                         const int32_t* indptr, const int32_t* indices, const float* bias,
                         float* out);

/// Throws std::invalid_argument naming `func` unless (indptr, indices) describe n valid row
/// lists of [0, m) as above; nnz is the length of indices.
void check_csr_rows(const char* func, const int32_t* indptr, int64_t n, const int32_t* indices,
                    int64_t nnz, int64_t m);

}  // namespace ccinfer
