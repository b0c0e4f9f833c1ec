#pragma once
/// TreeGatedLinear: the tree-structured gated layer of Cho & Bengio (2014) (docs/design.md,
/// section 3).
///
/// Input x (p), output h (q), depth k. Gating bits g (nbits of them) come from the input itself:
///  - threshold:  g[i] = x[gate_units[i]] > tau
///  - projection: g[i] = (G x + c)[i] > 0, G (nbits, p), c (nbits)
/// Every input unit j reads k of them as its path b = S_j(g):
///  - shared:  b_l = g[l] for every unit (nbits >= k);
///  - sliding: b_l = g[(floor(j / k) + l) mod nbits], the note's "k consecutive bits starting
///    at floor(j / k)", taken modulo nbits so that every unit has a full window (nbits >= k).
/// Each unit owns a binary tree of 2^(k+1) - 1 nodes in heap order: node 0 is the root and the
/// children of node v are 2v + 1 (bit 0) and 2v + 2 (bit 1), so the path visits
/// v_0 = 0, v_{l+1} = 2 v_l + 1 + b_l. Every node holds a q-vector T[j, v, :]; the layer is
///
///     h = phi(bias + sum_{j : x_j != 0} x_j * sum_{l = 0..k} T[j, v_l(j), :]),  phi = id | relu
///
/// Zero inputs are skipped, so the cost is (k + 1) q adds per non-zero input, O(k nnz(x) q),
/// while the table holds p q (2^(k+1) - 1) parameters.
///
/// Layout: the caller's table is T[j, node, :] (p, nodes, q), the paper's T(j, b_1..l); the
/// layer keeps a node-major copy [node][j][q] (heap order of nodes). Each active input reads
/// k + 1 contiguous q-rows; node-major puts the rows of neighbouring units for the same node
/// side by side and packs the top levels of all trees into a few small dense matrices, so
/// they stay in cache and in the TLB; out of cache it was 8-18% faster than unit-major
/// [j][node][q], and equal in cache (measurement in tree_gated.cpp, "Layout"). The first
/// 2^(l+1) - 1 node matrices are the depth-l tree.

#include <cstdint>
#include <vector>

#include "ccinfer/aligned.h"

namespace ccinfer {

/// Which gating bits a unit's path reads.
enum class TreePath : int { kShared = 0, kSliding = 1 };

/// Where the gating bits come from.
enum class TreeGates : int {
    kNone = 0,        ///< no bits (depth 0 only)
    kThreshold = 1,   ///< x[gate_units[i]] > tau
    kProjection = 2,  ///< (G x + c)[i] > 0
};

/// Deepest tree accepted (2^25 - 1 nodes per unit).
constexpr int64_t kTreeMaxDepth = 24;
/// Largest node table accepted, in bytes of float32 (and the same bound on G).
constexpr int64_t kTreeMaxTableBytes = int64_t{4} << 30;
/// Most gating bits accepted.
constexpr int64_t kTreeMaxBits = int64_t{1} << 16;

/// Nodes per unit of a tree of depth k: 2^(k+1) - 1 (k in [0, kTreeMaxDepth]).
constexpr int64_t tree_nodes(int64_t depth) { return (int64_t{2} << depth) - 1; }

/// The layer as given by the caller (copied at construction).
struct TreeGatedInit {
    int64_t p = 0, q = 0, depth = 0;
    const float* table = nullptr;  ///< (p, tree_nodes(depth), q) row-major
    const float* bias = nullptr;   ///< (q,) or nullptr (zero)
    TreePath path = TreePath::kShared;
    TreeGates gates = TreeGates::kNone;
    int64_t nbits = 0;
    const int32_t* gate_units = nullptr;  ///< threshold: (nbits,), entries in [0, p)
    float tau = 0.0f;                     ///< threshold
    const float* gate_weight = nullptr;   ///< projection: G (nbits, p) row-major
    const float* gate_bias = nullptr;     ///< projection: c (nbits,) or nullptr (zero)
    bool relu = false;
};

/// Throws std::invalid_argument naming `func` unless p, q >= 1, 0 <= depth <= kTreeMaxDepth and
/// the table p * (2^(depth+1) - 1) * q * 4 bytes is at most kTreeMaxTableBytes. Allocates
/// nothing; returns the number of floats of the table.
int64_t check_tree_shape(const char* func, int64_t p, int64_t q, int64_t depth);

/// Throws std::invalid_argument naming `func` unless `init` describes a valid layer: the shape
/// (check_tree_shape), a gate source that matches depth (none only for depth 0), 1 <= nbits <=
/// kTreeMaxBits with nbits >= depth, gate_units in [0, p), G within kTreeMaxTableBytes, a
/// finite tau. Reads sizes and gate_units only; allocates nothing.
void check_tree_gated(const char* func, const TreeGatedInit& init);

/// What the forward passes did (accumulated until reset).
struct TreeGatedStats {
    int64_t samples = 0;
    int64_t inputs_nonzero = 0;  ///< non-zero inputs seen
    int64_t node_rows = 0;       ///< q-rows of T read: (depth + 1) per non-zero input
};

/// Per-thread scratch of one forward pass.
struct TreeScratch {
    AlignedBuffer<int32_t> nz_index;   ///< (p) non-zero inputs
    AlignedBuffer<float> nz_value;     ///< (p)
    AlignedBuffer<int32_t> node_rows;  ///< (p (depth + 1)) rows of the copy, v_l * p + j
    AlignedBuffer<int32_t> paths;      ///< (starts, depth + 1) path of each bit window, times p
    AlignedBuffer<float> proj;         ///< (nbits) G x + c
    AlignedBuffer<uint8_t> bits;       ///< (nbits)
};

/// Scratch for one caller's forward passes; not shared between concurrent callers.
struct TreeWorkspace {
    std::vector<TreeScratch> slots;  ///< one per thread
    TreeGatedStats stats;
};

class TreeGatedLinear {
  public:
    /// Validates (check_tree_gated) before allocating, then copies the arrays.
    explicit TreeGatedLinear(const TreeGatedInit& init);

    int64_t in_features() const { return p_; }
    int64_t out_features() const { return q_; }
    int64_t depth() const { return depth_; }
    int64_t nodes() const { return tree_nodes(depth_); }
    int64_t nbits() const { return nbits_; }
    TreePath path() const { return path_; }
    TreeGates gates() const { return gates_; }
    bool relu() const { return relu_; }

    /// Scratch for `threads` threads (forward_batch uses at most that many).
    TreeWorkspace make_workspace(int threads) const;

    /// One sample: y (q) from x (p). Threads: a static split of the q outputs in 64-column
    /// slices (the gates and paths are computed once, before the region); every output is the
    /// same chain whatever the split, so results are identical for every thread count.
    void forward(const float* x, float* y, TreeWorkspace& ws) const;

    /// A batch: Y (n, q) from X (n, p), row-major. Threads: a static split of the samples,
    /// each computed single-threaded over all of q by the code of forward; row s of Y equals
    /// forward(X[s]) bit for bit, for every thread count.
    void forward_batch(const float* x, int64_t n, float* y, TreeWorkspace& ws) const;

    /// The gating bits of one sample (nbits bytes, 0 or 1).
    void gate_bits(const float* x, uint8_t* bits, TreeWorkspace& ws) const;

  private:
    /// Gathers the non-zero inputs, computes bits and paths and writes the node rows of every
    /// active input into s; returns the number of active inputs.
    int64_t prepare(const float* x, TreeScratch& s) const;
    void compute_bits(const float* x, int64_t nnz, TreeScratch& s) const;
    /// Thread ith's share of the path sums of a prepared sample, out of nth threads (nth = 1:
    /// all q outputs): the outputs of its slice of 64 columns (threads.h) into y.
    void axpy_share(const TreeScratch& s, int64_t nnz, int ith, int nth, float* y) const;
    /// Adds `samples` samples with `nonzero` active inputs in all to stats.
    void count(TreeGatedStats& stats, int64_t samples, int64_t nonzero) const;
    int64_t path_starts() const;

    int64_t p_, q_, depth_, nbits_;
    TreePath path_;
    TreeGates gates_;
    bool relu_;
    float tau_;
    AlignedBuffer<float> table_;          ///< (nodes, p, q): node-major
    AlignedBuffer<float> bias_;           ///< (q)
    AlignedBuffer<int32_t> gate_units_;   ///< (nbits) threshold
    AlignedBuffer<float> gate_weight_t_;  ///< (p, nbits): G transposed, for skipping zeros
    AlignedBuffer<float> gate_bias_;      ///< (nbits) projection
};

}  // namespace ccinfer
