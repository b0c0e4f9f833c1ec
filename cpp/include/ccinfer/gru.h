#pragma once
/// GRUStack: a stack of GRU layers with a linear output, one time step of the whole stack per
/// call (docs/design.md section 2, dissertation ch. 4). Each layer is one of three kinds:
///
///  - kDense: exactly torch.nn.GRU (gate order r, z, n as PyTorch stores them):
///        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
///        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
///        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
///        h' = (1 - z) * n + z * h                    (PyTorch: z = 1 keeps the state)
///  - kLowRank / kBlock: the conditional GRU (CLIPTANH z through a rank-r bottleneck):
///        z^lr = relu(W_zl x + U_zl h + b_zl)                              (r values)
///        kLowRank: z = cliptanh(W_z z^lr + b_z)                            (batch norm folded)
///        kBlock:   z[j*B + i] = cliptanh(z_scale[j] * z^lr[j] + z_shift[j]), B = h / g
///        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
///        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
///        h' = (1 - z) * h + z * n                    (docs/design.md section 2)
///    with cliptanh(u) = tanh(max(u, 0)). Where z_i = 0, h'_i = h_i bit for bit and rows i of
///    W_ir, W_hr, W_in, W_hn are never read.
///
/// Input: token ids in [0, V) (the first layer's W x is a column lookup of weights stored
/// transposed, bias folded in) or float vectors of width d. Output: logits W_out h + b_out.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ccinfer/aligned.h"

namespace ccinfer {

namespace detail {
struct BatchPanels;  // the batch step's packed weights (cpp/src/models/gru_panels.h)
class GruLayer;      // one layer (cpp/src/models/gru_layer.h)
}  // namespace detail

/// A single-stream step opens one parallel region with one barrier per layer, and a barrier
/// on a 2-core machine shared with other jobs can cost a scheduler time slice (measured here
/// under load: hidden 257, 2 threads 590 us per step against 14 us on one). So a step uses a
/// second thread only for this many times threads.h's kMinWorkPerThread multiply-adds per
/// thread (256k: a 27-1024-1024-27 step has about 6M, a hidden-257 step 150k).
constexpr int64_t kGruStepWorkPerThreadScale = 8;

/// The kind of one GRU layer.
enum class GruKind : int { kDense = 0, kLowRank = 1, kBlock = 2 };
/// Every kind, in enumerator order.
constexpr GruKind kGruKinds[] = {GruKind::kDense, GruKind::kLowRank, GruKind::kBlock};

const char* gru_kind_name(GruKind kind);
/// Throws std::invalid_argument for an unknown name ("dense", "lowrank", "block").
GruKind parse_gru_kind(const std::string& name);

/// The weights of one layer as the caller gives them (PyTorch layouts, row-major, copied at
/// construction). d: the layer's input width (V for token input), h: hidden units.
///  - kDense: w_ih (3h, d), w_hh (3h, h), b_ih (3h), b_hh (3h), gate order r, z, n.
///  - kLowRank, kBlock: w_ih (2h, d), w_hh (2h, h), b_ih (2h), b_hh (2h), order r, n; the z
///    path w_zl (rank, d), u_zl (rank, h), b_zl (rank); kLowRank: w_z (h, rank), b_z (h);
///    kBlock: z_scale (rank), z_shift (rank), rank = g gates, and g must divide h.
struct GruLayerInit {
    GruKind kind = GruKind::kDense;
    int64_t d = 0, h = 0, rank = 0;
    const float* w_ih = nullptr;
    const float* w_hh = nullptr;
    const float* b_ih = nullptr;
    const float* b_hh = nullptr;
    const float* w_zl = nullptr;
    const float* u_zl = nullptr;
    const float* b_zl = nullptr;
    const float* w_z = nullptr;
    const float* b_z = nullptr;
    const float* z_scale = nullptr;
    const float* z_shift = nullptr;
    /// Optional: W_ih and W_hh as binary16 bit patterns (ccinfer/half.h), same layouts; when
    /// given (both), w_ih / w_hh are ignored and the layer keeps these two matrices in half
    /// precision: half the memory and memory traffic, and results bit for bit those of the
    /// float32 values of the same weights (widening is exact, sums run in the same order).
    const uint16_t* w_ih_f16 = nullptr;
    const uint16_t* w_hh_f16 = nullptr;
};

/// One array of a layer kind: its name (as in model files and the Python API), its shape for
/// a layer with input width d, h units and rank (gating) r, and the GruLayerInit field that
/// takes it (half_field: where it may come as binary16 instead, W_ih and W_hh only).
struct GruTensorSpec {
    const char* name;
    std::vector<int64_t> shape;
    const float* GruLayerInit::* field;
    const uint16_t* GruLayerInit::* half_field = nullptr;
};

/// The schema of a layer kind, written once (each kind's file, cpp/src/models/gru_layer_*.cpp):
/// its arrays in order, with their shapes for input width d (V for token input), h units and
/// rank / gating r (ignored by a dense layer). The binding and the Python package read it
/// from here.
std::vector<GruTensorSpec> gru_layer_tensors(GruKind kind, int64_t d, int64_t h, int64_t r);

/// Counters of what the steps did for one layer.
struct GruLayerStats {
    int64_t samples = 0;       ///< stream-steps (a batch step of n streams counts n)
    int64_t z_active = 0;      ///< units with z > 0 (every unit for a dense layer)
    int64_t rows_skipped = 0;  ///< rows of W_ih and W_hh not read (token input: W_hh only)
    int64_t macs = 0;          ///< multiply-adds done, z path included
};

class GRUStack;

/// The recurrent state of n independent streams: h of every layer, (n, h_l) row-major each,
/// and the steps each stream has taken. Tied to the model that made it (model_id); a step
/// with a state from another model throws. A detached state (model_id 0: restored from its
/// arrays, e.g. unpickled in another process) is bound by the first model whose layer widths
/// it has to step it.
///
/// Concurrency: a step (or run(), for its whole length), reset, set_h and copy_stream (its
/// destination) hold the state exclusively; get_h, steps, clone and copy_stream (its
/// source) share it. A call that finds the state held in a conflicting way throws
/// std::invalid_argument before touching anything, so every read sees whole steps and no
/// write is half applied.
class GRUState {
  public:
    /// A zero state of n >= 1 streams with these layer widths, bound to no model yet, whose
    /// streams have taken `steps` steps (n counts; empty: none). Throws std::invalid_argument
    /// for n < 1, no layers, a width < 1 or a steps vector of another length.
    static std::unique_ptr<GRUState> detached(int64_t n, const std::vector<int64_t>& widths,
                                              std::vector<int64_t> steps = {});
    int64_t batch() const { return n_; }
    uint64_t model_id() const { return model_id_; }
    size_t num_layers() const { return h_.size(); }
    int64_t hidden(size_t layer) const { return widths_[layer]; }
    /// Unlocked access, for the steps (which hold the state) and single-threaded callers.
    float* h(size_t layer) { return h_[layer].data(); }
    const float* h(size_t layer) const { return h_[layer].data(); }
    /// Zeroes every layer's state and every stream's step count.
    void reset();
    /// A copy (same model, same streams, same values, same step counts).
    std::unique_ptr<GRUState> clone() const;
    /// Copies stream `from` of src (state and step count) into stream `to` of this state.
    /// Throws std::invalid_argument if src belongs to another model (a detached side needs equal
    /// widths) or an index is out of range.
    void copy_stream(const GRUState& src, int64_t from, int64_t to);
    /// Copies layer `layer`'s state, (batch, hidden) row-major, into out. layer < num_layers.
    void get_h(size_t layer, float* out) const;
    /// Sets layer `layer`'s state from h, (batch, hidden) row-major; std::invalid_argument if
    /// h holds a NaN or an infinity (ccinfer/finite.h). The step counts are kept.
    void set_h(size_t layer, const float* h);
    /// Steps applied to each stream since new_state() or reset() (batch entries): a step or
    /// batch step adds one to every stream it advanced; copy_stream copies the count.
    std::vector<int64_t> steps() const;

    /// Holds the state for a scope (see the class comment); throws std::invalid_argument
    /// naming fn if it is held in a conflicting way.
    class Lock {
      public:
        Lock(const char* fn, const GRUState& state, bool exclusive);
        ~Lock();
        Lock(const Lock&) = delete;
        Lock& operator=(const Lock&) = delete;

      private:
        const GRUState& state_;
        bool exclusive_;
    };

  private:
    friend class GRUStack;
    std::atomic<uint64_t> model_id_{0};  ///< 0: detached (see detached())
    int64_t n_ = 0;
    std::vector<int64_t> widths_;
    std::vector<AlignedBuffer<float>> h_;
    std::vector<int64_t> steps_;
    /// -1: held exclusively; k >= 0: k shared holders.
    mutable std::atomic<int> users_{0};
};

/// Scratch for one caller's steps (never shared by two concurrent steps), plus the stats of
/// the steps it ran.
struct GruWorkspace {
    int64_t capacity = 0;            ///< streams the batch buffers hold
    int threads = 1;                 ///< threads the per-thread buffers hold
    int64_t h_max = 0, r_max = 0;    ///< the per-thread slices: widest layer, largest rank
    AlignedBuffer<float> gx, gh;     ///< input and recurrent pre-activations, (n, 3 h_max)
    AlignedBuffer<float> zlr;        ///< z^lr, 2 r_max per sample or per thread
    AlignedBuffer<float> z;          ///< z, h_max per sample or per thread
    AlignedBuffer<float> hnew;       ///< new states of every layer (one stream)
    AlignedBuffer<int32_t> rows;     ///< active weight rows, 2 h_max per thread (one stream)
    AlignedBuffer<int32_t> units;    ///< active units, h_max per thread (one stream)
    AlignedBuffer<uint8_t> mask;     ///< per-sample row masks, (n, 2 h_max)
    AlignedBuffer<float> gates;      ///< block gates, (n, g_max)
    AlignedBuffer<int32_t> samples;  ///< per-thread sample lists, (threads, n)
    AlignedBuffer<int32_t> zlr_nz;   ///< non-zero entries of z^lr, r_max per thread
    std::vector<int64_t> active;     ///< active units per layer of the last step
    std::vector<int64_t> cursor;     ///< next unclaimed work item per layer (detail::claim)
    std::vector<int64_t> block_cost, block_on, block_split;  ///< block layers' work split
    std::vector<int32_t> block_order;                        ///< blocks, busiest first
    std::vector<GruLayerStats> stats;
};

class GRUStack {
  public:
    /// Copies the weights once into aligned storage laid out for the step (see gru.cpp).
    /// token_input: layer 0's input is a token id in [0, layers[0].d). w_out (v_out, h_last),
    /// b_out (v_out). Throws std::invalid_argument on inconsistent sizes or a null pointer.
    GRUStack(const std::vector<GruLayerInit>& layers, bool token_input, const float* w_out,
             const float* b_out, int64_t v_out);

    bool token_input() const { return token_input_; }
    int64_t input_size() const;  ///< V or d
    int64_t output_size() const { return v_out_; }
    size_t num_layers() const { return layers_.size(); }
    GruKind kind(size_t l) const;
    int64_t hidden(size_t l) const;
    int64_t rank(size_t l) const;
    uint64_t id() const { return id_; }

    /// A zero state for n >= 1 streams.
    std::unique_ptr<GRUState> new_state(int64_t n = 1) const;
    /// Scratch for steps of up to `batch` streams (threads: get_num_threads() at this call;
    /// a step at more threads reallocates nothing but uses at most that many).
    GruWorkspace make_workspace(int64_t batch = 1) const;

    /// One step of one stream (state.batch() == 1): token in [0, V) or x (d floats), logits
    /// (v_out floats) out. Opens one parallel region for the whole stack; results are
    /// identical for every thread count. Throws std::invalid_argument (before touching the
    /// state) for a bad token, a state from another model, a busy state or a small workspace.
    void step(int32_t token, GRUState& state, float* logits, GruWorkspace& ws) const;
    void step(const float* x, GRUState& state, float* logits, GruWorkspace& ws) const;

    /// T steps of one stream (state.batch() == 1) in one call: tokens (T) or x (T, d)
    /// row-major in, logits (T, v_out) out. All or nothing: every input is checked (token
    /// range, finite values) and the state held for the whole call before the first step, so
    /// a refused call (bad input, a state in use) leaves the state as it was, and no other
    /// call sees or changes the state part-way.
    void run(const int32_t* tokens, int64_t T, GRUState& state, float* logits,
             GruWorkspace& ws) const;
    void run(const float* x, int64_t T, GRUState& state, float* logits, GruWorkspace& ws) const;

    /// One step of n = state.batch() streams: tokens (n) or X (n, d) row-major, logits
    /// (n, v_out). Dense layers: the outer-product panel GEMM over every sample; block
    /// layers: the same per block over the samples whose gate is on; low-rank layers:
    /// per-sample row masks (cond_gemv_batch). The z path is a small GEMM over the batch.
    /// The first batch step packs a copy of the dense and block layers' W_ih and W_hh in row
    /// panels (as many bytes again as those matrices; kept for the model's life). Row s
    /// equals step() of stream s to rounding (sums run in another order, so a z
    /// pre-activation within rounding of 0 may fall the other way). Results are identical
    /// for every thread count.
    void step_batch(const int32_t* tokens, GRUState& state, float* logits, GruWorkspace& ws) const;
    void step_batch(const float* x, GRUState& state, float* logits, GruWorkspace& ws) const;

    /// Multiply-adds of one dense-equivalent step (3h(d+h) per layer, token input: 3h h for
    /// layer 0, plus the output layer).
    int64_t dense_macs() const;

  private:
    void check_step(const char* fn, GRUState& state, int64_t n, const GruWorkspace& ws) const;
    /// Throws std::invalid_argument unless tokens[0:n] are in [0, input_size()).
    void check_tokens(const char* fn, const int32_t* tokens, int64_t n, const char* what) const;
    void step_impl(int32_t token, const float* x, GRUState& state, float* logits,
                   GruWorkspace& ws) const;
    void step_batch_impl(const int32_t* tokens, const float* x, GRUState& state, float* logits,
                         GruWorkspace& ws) const;

    /// The layers, one class per kind (cpp/src/models/gru_layer.h); immutable, so copies of
    /// the stack share them.
    std::vector<std::shared_ptr<const detail::GruLayer>> layers_;
    bool token_input_;
    int64_t v_out_;
    AlignedBuffer<float> w_out_, b_out_;
    AlignedBuffer<int32_t> iota_;  ///< 0, 1, 2, ...: the row list of a dense product
    int64_t h_max_ = 0, r_max_ = 1;
    uint64_t id_;
    /// Packed by the first batch step (batch_panels()); shared by copies of the stack, whose
    /// weights are the same.
    std::shared_ptr<detail::BatchPanels> panels_;
    const detail::BatchPanels& batch_panels() const;
};

/// Workspaces for the concurrent callers of one model, and the stats of every step they ran:
/// what a server (the Python binding, a C API) keeps beside a GRUStack. Each call leases a
/// workspace large enough for its batch (reusing a returned one, or making one) and gives it
/// back, its stats merged into the total, when the lease ends. Thread-safe.
class GruWorkspacePool {
  public:
    explicit GruWorkspacePool(const GRUStack& model);

    class Lease {
      public:
        Lease(GruWorkspacePool& pool, int64_t batch);
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        GruWorkspace& get() { return *ws_; }

      private:
        GruWorkspacePool& pool_;
        std::unique_ptr<GruWorkspace> ws_;
    };

    /// The stats of every step of every returned lease since construction or reset_stats.
    std::vector<GruLayerStats> stats() const;
    void reset_stats();

  private:
    const GRUStack& model_;
    mutable std::mutex mutex_;  ///< guards pool_ and total_
    std::vector<std::unique_ptr<GruWorkspace>> pool_;
    std::vector<GruLayerStats> total_;
};

}  // namespace ccinfer
