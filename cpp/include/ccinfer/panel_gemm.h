#pragma once
// Weights packed in row panels for the outer-product GEMM of the batch steps.
//
// A panel holds kPanelRows rows of a row-major matrix W (rows, k), stored k-major:
// panel[j * kPanelRows + r] = W[p * kPanelRows + r, j]; the rows past the end of W in the last
// panel are zero. So the 32 weights of one column are one contiguous 128-byte line pair, and
// a kernel multiplies them by one broadcast x[s, j] per sample: every load of w is shared by
// all the tile's samples and every x element is read once per panel (not once per 4 rows as
// in the dot-product kernel, block_gemm). Measured against block_gemm on 2048 x 1024 float32
// matrices at batch 64 (Xeon Skylake-SP, one process, alternating): 1.24-1.36x faster at 24
// samples per block, 1.28x at 64 (docs/performance/batch64.md).
#include <algorithm>
#include <cstdint>

namespace ccinfer {

constexpr int64_t kPanelRows = 32;

/// Elements of `rows` rows of length k packed in panels (the last one padded to full size).
inline int64_t packed_panels_size(int64_t rows, int64_t k) {
    return (rows + kPanelRows - 1) / kPanelRows * kPanelRows * k;
}

/// Packs W[0:rows, 0:k] (row stride ldw) into packed_panels_size(rows, k) elements at out.
template <typename W>
void pack_panels(const W* w, int64_t ldw, int64_t rows, int64_t k, W* out) {
    for (int64_t p0 = 0; p0 < rows; p0 += kPanelRows) {
        W* panel = out + p0 * k;
        const int64_t n = std::min(kPanelRows, rows - p0);
        for (int64_t j = 0; j < k; ++j) {
            W* column = panel + j * kPanelRows;
            for (int64_t r = 0; r < n; ++r) column[r] = w[(p0 + r) * ldw + j];
            std::fill(column + n, column + kPanelRows, W{0});
        }
    }
}

/// Y[s, 0:m] = X[s] W^T for s = samples[i], i < nsamples (s = i when samples is null), with
/// W (m, k) packed by pack_panels and X (., k), Y (., m) row-major: the active ISA's kernel,
/// single-threaded, no allocation, sizes not checked. Every ISA gives the same bits (one
/// fused multiply-add per term, in order of k). The GRU batch step runs the same kernel over
/// the panels it keeps (cpp/src/models/gru_panels.h).
void panel_gemm(const float* panels, int64_t m, int64_t k, const float* x, const int32_t* samples,
                int64_t nsamples, float* y);

}  // namespace ccinfer
