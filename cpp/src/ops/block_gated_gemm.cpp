#include "ccinfer/block_gated_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/dense.h"
#include "ccinfer/threads.h"

namespace ccinfer {
namespace {

inline bool gate_on(float g) { return g > 0.0f; }  // false for NaN

// Scratch reused across calls of one calling thread: the per-block work counts, the thread
// ranges and one sample list per worker thread.
struct Workspace {
    std::vector<int64_t> cost;
    std::vector<int64_t> split;
    std::vector<int32_t> samples;
};

Workspace& workspace() {
    static thread_local Workspace ws;
    return ws;
}

void dense_path(const float* w, int64_t m, int64_t k, const float* x, int64_t n, const float* gates,
                int64_t nb, int64_t block, float* y, GatedOff off) {
    if (off == GatedOff::kZero) {
        dense_gemm(w, m, k, x, n, y);
        for (int64_t s = 0; s < n; ++s)
            for (int64_t b = 0; b < nb; ++b)
                if (!gate_on(gates[s * nb + b])) std::fill_n(y + s * m + b * block, block, 0.0f);
        return;
    }
    std::vector<float> full(static_cast<size_t>(n * m));
    dense_gemm(w, m, k, x, n, full.data());
    for (int64_t s = 0; s < n; ++s)
        for (int64_t b = 0; b < nb; ++b)
            if (gate_on(gates[s * nb + b]))
                std::memcpy(y + s * m + b * block, full.data() + s * m + b * block,
                            sizeof(float) * block);
}

}  // namespace

double block_gated_gemm_dense_threshold(Isa isa) {
    return isa == Isa::kScalar ? kBlockGatedGemmDenseThresholdScalar
                               : std::numeric_limits<double>::infinity();
}

namespace {

template <typename W>
void gated_blocks(const W* w, int64_t k, const float* x, int64_t n, const float* gates, int64_t nb,
                  int64_t block, int64_t b_begin, int64_t b_end, float* y, int64_t ldy,
                  GatedOff off, int32_t* samples) {
    const auto block_gemm = kernels::block_gemm_for(kernels::active(), w);
    for (int64_t b = b_begin; b < b_end; ++b) {
        int64_t count = 0;
        for (int64_t s = 0; s < n; ++s) {
            if (gate_on(gates[s * nb + b]))
                samples[count++] = static_cast<int32_t>(s);
            else if (off == GatedOff::kZero)
                std::fill_n(y + s * ldy + b * block, block, 0.0f);
        }
        if (count == 0) continue;
        block_gemm(w + b * block * k, k, block, k, x, k, samples, count, y + b * block, ldy);
    }
}

}  // namespace

void block_gated_gemm_blocks(const float* w, int64_t k, const float* x, int64_t n,
                             const float* gates, int64_t nb, int64_t block, int64_t b_begin,
                             int64_t b_end, float* y, int64_t ldy, GatedOff off, int32_t* samples) {
    gated_blocks(w, k, x, n, gates, nb, block, b_begin, b_end, y, ldy, off, samples);
}

void block_gated_gemm_blocks(const uint16_t* w, int64_t k, const float* x, int64_t n,
                             const float* gates, int64_t nb, int64_t block, int64_t b_begin,
                             int64_t b_end, float* y, int64_t ldy, GatedOff off, int32_t* samples) {
    gated_blocks(w, k, x, n, gates, nb, block, b_begin, b_end, y, ldy, off, samples);
}

void block_gated_gemm(const float* w, int64_t m, int64_t k, const float* x, int64_t n,
                      const float* gates, int64_t block, float* y, GatedOff off,
                      std::optional<double> dense_threshold) {
    const char* fn = "block_gated_gemm";
    CCINFER_CHECK(m >= 0 && k >= 0 && n >= 0, fn, ": need m, k, n >= 0, got m = ", m, ", k = ", k,
                  ", n = ", n);
    CCINFER_CHECK(block >= 1 && m % block == 0, fn, ": block must be >= 1 and divide m = ", m,
                  ", got block = ", block);
    const int64_t nb = m / block;
    if (n == 0 || m == 0) return;

    Workspace& ws = workspace();
    ws.cost.assign(static_cast<size_t>(nb) + 1, 0);
    // Work of block b: its multiply-adds plus the scan of its gates; prefix sums in cost.
    int64_t active = 0;
    for (int64_t b = 0; b < nb; ++b) {
        int64_t count = 0;
        for (int64_t s = 0; s < n; ++s) count += gate_on(gates[s * nb + b]);
        active += count;
        ws.cost[b + 1] = ws.cost[b] + count * block * k + n;
    }
    const double density = static_cast<double>(active) / static_cast<double>(n * nb);
    if (k > 0 &&
        density >= dense_threshold.value_or(block_gated_gemm_dense_threshold(active_isa()))) {
        dense_path(w, m, k, x, n, gates, nb, block, y, off);
        return;
    }

    const int nth = threads_for_work(active * block * k);
    ws.samples.resize(static_cast<size_t>(nth * n));
    // Contiguous block ranges of about equal work: thread t starts at the first block whose
    // prefix work reaches t/nth of the total. Depends only on the gates, not on timing.
    ws.split.assign(static_cast<size_t>(nth) + 1, nb);
    ws.split[0] = 0;
    for (int t = 1; t < nth; ++t) {
        const int64_t target = ws.cost[nb] * t / nth;
        ws.split[t] = std::lower_bound(ws.cost.begin(), ws.cost.end(), target) - ws.cost.begin();
        ws.split[t] = std::max(ws.split[t - 1], std::min(ws.split[t], nb));
    }
    const int64_t* split = ws.split.data();
    int32_t* samples = ws.samples.data();
    if (nth <= 1) {
        block_gated_gemm_blocks(w, k, x, n, gates, nb, block, 0, nb, y, m, off, samples);
        return;
    }
#pragma omp parallel num_threads(nth)
    {
        const int ith = omp_get_thread_num();
        block_gated_gemm_blocks(w, k, x, n, gates, nb, block, split[ith], split[ith + 1], y, m, off,
                                samples + ith * n);
    }
}

}  // namespace ccinfer
