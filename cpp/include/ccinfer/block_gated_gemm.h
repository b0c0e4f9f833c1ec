#pragma once
/// Block-gated matrix products for a batch (the "server" path of the conditional GRU,
/// dissertation ch. 4 and fig. A.3): the m output units form m / block blocks, every sample has
/// one gate per block, and a block's rows of W are multiplied only with the samples whose gate
/// for it is on.

#include <cstdint>
#include <optional>

#include "ccinfer/cpu.h"

namespace ccinfer {

/// What block_gated_gemm does with the outputs of a (sample, block) pair whose gate is off.
enum class GatedOff {
    kZero,       ///< set them to 0 (a fresh output)
    kUntouched,  ///< leave them as they are (the caller's out=)
};

/// Block density (the fraction of (sample, block) pairs whose gate is on) at or above which
/// block_gated_gemm runs one dense OpenBLAS sgemm, then zeroes or restores the gated-off
/// pairs, instead of the conditional kernel of `isa`. Measured on the 2-core AMD EPYC
/// (AVX-512; OpenBLAS picks its Haswell sgemm), 1 thread, batch 64, 1024x1024 and 3072x1051,
/// blocks 16 and 64, bench/test_bench_block_gated_gemm.py: at full density the AVX-512 kernel
/// runs 1.5x as fast as sgemm and the AVX2 kernel 1.00-1.07x, so for them the dense path never
/// pays (infinity); the scalar reference kernel breaks even with sgemm near density 0.04.
double block_gated_gemm_dense_threshold(Isa isa);

/// The scalar kernel's measured break-even with sgemm (see block_gated_gemm_dense_threshold).
constexpr double kBlockGatedGemmDenseThresholdScalar = 0.04;

/// Y[s, b*block + i] = dot(X[s, :], W[b*block + i, :]) for i < block, for every sample s and
/// block b whose gate gates[s, b] > 0 (a NaN gate is off); the outputs of the other pairs are
/// set to zero or left untouched (`off`).
///  - W (m, k), X (n, k), gates (n, m / block) and Y (n, m): row-major and contiguous.
///  - m, k, n >= 0; block >= 1 must divide m.
///  - Y must not alias W, X or gates.
///  - dense_threshold: block density at or above which one OpenBLAS sgemm runs instead;
///    nullopt: block_gated_gemm_dense_threshold(active_isa()); > 1 never; 0 always (unless
///    k == 0).
/// Throws std::invalid_argument on bad sizes. Threads: the conditional path opens one parallel
/// region and gives each thread a static, contiguous range of blocks of about equal work;
/// every output is computed by the same code whatever the range, so the result is identical
/// for every thread count. The dense path calls OpenBLAS outside any parallel region; its
/// rounding may change with the thread count (OpenBLAS's own split). The two paths agree to
/// rounding (exactly on small-integer data).
void block_gated_gemm(const float* w, int64_t m, int64_t k, const float* x, int64_t n,
                      const float* gates, int64_t block, float* y, GatedOff off = GatedOff::kZero,
                      std::optional<double> dense_threshold = std::nullopt);

/// The conditional path over blocks [b_begin, b_end) only, single-threaded, for a caller that
/// is already inside its own parallel region (a model step gives each thread its share of the
/// nb = m / block blocks). Same layout and result as block_gated_gemm with row stride ldy >= m
/// for Y. `samples` is scratch for n int32 (one per thread). Never allocates, never throws,
/// never calls BLAS; sizes are not checked.
void block_gated_gemm_blocks(const float* w, int64_t k, const float* x, int64_t n,
                             const float* gates, int64_t nb, int64_t block, int64_t b_begin,
                             int64_t b_end, float* y, int64_t ldy, GatedOff off, int32_t* samples);
/// The same over binary16 weights (ccinfer/half.h): bit for bit the result over their
/// float32 values, reading half the bytes.
void block_gated_gemm_blocks(const uint16_t* w, int64_t k, const float* x, int64_t n,
                             const float* gates, int64_t nb, int64_t block, int64_t b_begin,
                             int64_t b_end, float* y, int64_t ldy, GatedOff off, int32_t* samples);

}  // namespace ccinfer
