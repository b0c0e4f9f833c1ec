#include "ccinfer/tree_gated.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/finite.h"
#include "ccinfer/sizes.h"
#include "ccinfer/sparse_input_gemv.h"
#include "ccinfer/threads.h"

// Layout. The AVX-512 kernel takes row numbers, so unit-major [j][node][q] (row j * nodes + v)
// and node-major [node][j][q] (row v * p + j) differ only in them. Scratch benchmark, p = 784,
// 40% of the inputs non-zero, a pool of 64 samples with their own random inputs and 64 random
// bits, 1 thread, the four variants interleaved over 200 rounds (the machine was shared with a
// training job: medians are noisy, the 10th percentiles steadier), microseconds median / p10:
//                               unit-major       node-major
//   q = 128, k = 4 (12 MB, L3)   shared  13.8 / 9.8   14.7 / 10.1
//                                sliding 15.9 / 10.1  16.2 / 10.2
//   q = 128, k = 8 (205 MB)      shared  133 / 65     119 / 54
//                                sliding 135 / 66     125 / 60
//   q = 32,  k = 4 (3 MB)        shared  1.85 / 1.78  1.90 / 1.82
//   q = 32,  k = 8 (51 MB)       shared  19.0 / 17.3  16.9 / 15.3
//                                sliding 20.5 / 17.7  18.0 / 16.5
// In cache the two are equal within noise; out of cache node-major is 8-18% faster in both
// path modes: the top levels of every tree (a few hundred kB) are dense matrices that stay in
// cache and need few TLB entries (transparent huge pages are madvise-only here), where
// unit-major spreads them one row per tree. So the layer copies the table node-major.

namespace ccinfer {

int64_t check_tree_shape(const char* func, int64_t p, int64_t q, int64_t depth) {
    CCINFER_CHECK(p >= 1 && q >= 1, func,
                  ": in_features p and out_features q must be >= 1, got p = ", p, ", q = ", q);
    CCINFER_CHECK(depth >= 0 && depth <= kTreeMaxDepth, func, ": depth k must be in [0, ",
                  kTreeMaxDepth, "], got ", depth);
    const int64_t nodes = tree_nodes(depth);
    const int64_t max_floats = kTreeMaxTableBytes / 4;
    // Divisions, not products: p * nodes * q may overflow int64.
    CCINFER_CHECK(p <= max_floats / nodes && q <= max_floats / (p * nodes), func,
                  ": a node table of p * (2^(k+1) - 1) * q = ", p, " * ", nodes, " * ", q,
                  " float32 exceeds the limit of ", kTreeMaxTableBytes >> 30,
                  " GiB (k too large for memory)");
    return p * nodes * q;
}

void check_tree_gated(const char* func, const TreeGatedInit& init) {
    check_tree_shape(func, init.p, init.q, init.depth);
    CCINFER_CHECK(init.table, func, ": table is missing");
    if (init.gates == TreeGates::kNone) {
        CCINFER_CHECK(init.depth == 0, func, ": depth ", init.depth,
                      " needs gating bits (gate_units or gate_weight)");
        return;
    }
    CCINFER_CHECK(init.nbits >= 1 && init.nbits <= kTreeMaxBits, func,
                  ": the number of gating bits must be in [1, ", kTreeMaxBits, "], got ",
                  init.nbits);
    CCINFER_CHECK(init.nbits >= init.depth, func, ": a path of depth ", init.depth,
                  " needs at least ", init.depth, " gating bits, got ", init.nbits);
    if (init.gates == TreeGates::kThreshold) {
        CCINFER_CHECK(init.gate_units, func, ": gate_units is missing");
        CCINFER_CHECK(std::isfinite(init.tau), func, ": tau must be finite");
        for (int64_t i = 0; i < init.nbits; ++i)
            CCINFER_CHECK(init.gate_units[i] >= 0 && init.gate_units[i] < init.p, func,
                          ": gate_units[", i, "] = ", init.gate_units[i], " is out of range [0, ",
                          init.p, ")");
    } else {
        CCINFER_CHECK(init.gate_weight, func, ": gate_weight is missing");
        CCINFER_CHECK(init.nbits <= kTreeMaxTableBytes / 4 / init.p, func, ": gate_weight of ",
                      init.nbits, " x ", init.p, " float32 exceeds the limit");
    }
}

TreeGatedLinear::TreeGatedLinear(const TreeGatedInit& init)
    : p_(init.p),
      q_(init.q),
      depth_(init.depth),
      nbits_(init.gates == TreeGates::kNone ? 0 : init.nbits),
      path_(init.path),
      gates_(init.gates),
      relu_(init.relu),
      tau_(init.tau) {
    check_tree_gated("TreeGatedLinear", init);
    // The caller's (p, nodes, q) table, copied node-major: row v * p + j (see "Layout").
    const int64_t nodes = this->nodes();
    table_ = AlignedBuffer<float>(p_ * nodes * q_);
    for (int64_t j = 0; j < p_; ++j)
        for (int64_t v = 0; v < nodes; ++v)
            std::copy_n(init.table + (j * nodes + v) * q_, q_, table_.data() + (v * p_ + j) * q_);
    bias_ = AlignedBuffer<float>(q_);
    for (int64_t c = 0; c < q_; ++c) bias_[c] = init.bias ? init.bias[c] : 0.0f;
    if (gates_ == TreeGates::kThreshold) {
        gate_units_ = AlignedBuffer<int32_t>(init.gate_units, nbits_);
    } else if (gates_ == TreeGates::kProjection) {
        gate_weight_t_ = AlignedBuffer<float>(p_ * nbits_);
        for (int64_t i = 0; i < nbits_; ++i)
            for (int64_t j = 0; j < p_; ++j)
                gate_weight_t_[j * nbits_ + i] = init.gate_weight[i * p_ + j];
        gate_bias_ = AlignedBuffer<float>(nbits_);
        for (int64_t i = 0; i < nbits_; ++i)
            gate_bias_[i] = init.gate_bias ? init.gate_bias[i] : 0.0f;
    }
}

int64_t TreeGatedLinear::path_starts() const {
    // Sliding: unit j starts its window at bit (j / k) mod nbits; only the starts some unit
    // uses get a path.
    if (path_ == TreePath::kShared || depth_ == 0) return 1;
    return std::min(nbits_, (p_ - 1) / depth_ + 1);
}

TreeWorkspace TreeGatedLinear::make_workspace(int threads) const {
    TreeWorkspace ws;
    ws.slots.resize(std::max(threads, 1));
    for (TreeScratch& s : ws.slots) {
        s.nz_index = AlignedBuffer<int32_t>(p_);
        s.nz_value = AlignedBuffer<float>(p_);
        s.node_rows = AlignedBuffer<int32_t>(p_ * (depth_ + 1));
        s.paths = AlignedBuffer<int32_t>(path_starts() * (depth_ + 1));
        s.proj = AlignedBuffer<float>(std::max<int64_t>(nbits_, 1));
        s.bits = AlignedBuffer<uint8_t>(std::max<int64_t>(nbits_, 1));
    }
    return ws;
}

void TreeGatedLinear::compute_bits(const float* x, int64_t nnz, TreeScratch& s) const {
    uint8_t* bits = s.bits.data();
    if (gates_ == TreeGates::kThreshold) {
        for (int64_t i = 0; i < nbits_; ++i) bits[i] = x[gate_units_[i]] > tau_;
    } else if (gates_ == TreeGates::kProjection) {
        // G x + c over the non-zero inputs only, in increasing j (G^T rows are contiguous).
        float* z = s.proj.data();
        for (int64_t i = 0; i < nbits_; ++i) z[i] = gate_bias_[i];
        for (int64_t t = 0; t < nnz; ++t) {
            const float v = s.nz_value[t];
            const float* g = gate_weight_t_.data() + int64_t{s.nz_index[t]} * nbits_;
            for (int64_t i = 0; i < nbits_; ++i) z[i] += v * g[i];
        }
        for (int64_t i = 0; i < nbits_; ++i) bits[i] = z[i] > 0.0f;
    }
}

int64_t TreeGatedLinear::prepare(const float* x, TreeScratch& s) const {
    const int64_t nnz = gather_nonzero(x, p_, s.nz_index.data(), s.nz_value.data());
    compute_bits(x, nnz, s);
    const int64_t len = depth_ + 1, starts = path_starts();
    const uint8_t* bits = s.bits.data();
    int32_t* paths = s.paths.data();
    for (int64_t st = 0; st < starts; ++st) {
        int32_t v = 0;
        paths[st * len] = 0;
        for (int64_t l = 0; l < depth_; ++l) {
            const int64_t bit = path_ == TreePath::kShared ? l : (st + l) % nbits_;
            v = 2 * v + 1 + bits[bit];
            paths[st * len + l + 1] = v;
        }
    }
    // Node-major rows v * p + j < nodes * p <= 2^30 (check_tree_shape): int32 holds them.
    for (int64_t st = 0; st < starts * len; ++st) paths[st] *= static_cast<int32_t>(p_);
    int32_t* rows = s.node_rows.data();
    for (int64_t t = 0; t < nnz; ++t) {
        const int32_t j = s.nz_index[t];
        const int32_t* path =
            paths + (path_ == TreePath::kShared || depth_ == 0 ? 0 : (j / depth_) % nbits_) * len;
        for (int64_t l = 0; l < len; ++l) rows[t * len + l] = path[l] + j;
    }
    return nnz;
}

void TreeGatedLinear::gate_bits(const float* x, uint8_t* bits, TreeWorkspace& ws) const {
    check_finite("TreeGatedLinear.gates", "x", x, p_);
    TreeScratch& s = ws.slots[0];
    const int64_t nnz = gates_ == TreeGates::kProjection
                            ? gather_nonzero(x, p_, s.nz_index.data(), s.nz_value.data())
                            : 0;
    compute_bits(x, nnz, s);
    std::copy_n(s.bits.data(), nbits_, bits);
}

void TreeGatedLinear::axpy_share(const TreeScratch& s, int64_t nnz, int ith, int nth,
                                 float* y) const {
    const int64_t c0 = aligned_slice_start(q_, ith, nth);
    const int64_t c1 = aligned_slice_start(q_, ith + 1, nth);
    if (c1 > c0)
        kernels::active().tree_axpy(table_.data(), q_, s.node_rows.data(), depth_ + 1,
                                    s.nz_value.data(), nnz, c0, c1, bias_.data(), relu_, y);
}

void TreeGatedLinear::count(TreeGatedStats& stats, int64_t samples, int64_t nonzero) const {
    stats.samples += samples;
    stats.inputs_nonzero += nonzero;
    stats.node_rows += nonzero * (depth_ + 1);
}

void TreeGatedLinear::forward(const float* x, float* y, TreeWorkspace& ws) const {
    check_finite("TreeGatedLinear", "x", x, p_);
    const TreeScratch& s = ws.slots[0];
    const int64_t nnz = prepare(x, ws.slots[0]);
    const int nth = static_cast<int>(std::min<int64_t>(threads_for_work(nnz * (depth_ + 1) * q_),
                                                       (q_ + kSliceAlign - 1) / kSliceAlign));
    if (nth <= 1) {
        axpy_share(s, nnz, 0, 1, y);
    } else {
#pragma omp parallel num_threads(nth)
        axpy_share(s, nnz, omp_get_thread_num(), omp_get_num_threads(), y);
    }
    count(ws.stats, 1, nnz);
}

void TreeGatedLinear::forward_batch(const float* x, int64_t n, float* y, TreeWorkspace& ws) const {
    if (n <= 0) return;
    check_finite("TreeGatedLinear", "x", x, checked_mul(n, p_, "TreeGatedLinear"), p_);
    // Work estimate from a dense input; the split only decides how many threads start.
    const int nth =
        static_cast<int>(std::min<int64_t>({static_cast<int64_t>(ws.slots.size()), n,
                                            threads_for_work(n * p_ * (depth_ + 1) * q_ / 4)}));
    int64_t nonzero = 0;
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(+ : nonzero)
    {
        const int ith = omp_get_thread_num();
        TreeScratch& s = ws.slots[ith];
        const int64_t s0 = n * ith / nth, s1 = n * (ith + 1) / nth;
        for (int64_t i = s0; i < s1; ++i) {
            const int64_t nnz = prepare(x + i * p_, s);
            axpy_share(s, nnz, 0, 1, y + i * q_);
            nonzero += nnz;
        }
    }
    count(ws.stats, n, nonzero);
}

}  // namespace ccinfer
