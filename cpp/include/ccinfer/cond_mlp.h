#pragma once
/// CondMLP: a stack of ReLU layers in which each hidden layer may carry a low-rank sign
/// estimator (Davis & Arel 2014; docs/design.md section 1), run whole in C++.
///
/// Hidden layer l computes a' = relu(W a + b), and with an estimator only the rows
/// {i : (A (B a))_i + b_i > tau} are computed; the others are 0. The last layer is linear and
/// dense. Two savings are available per layer: skipping predicted-zero outputs (rows of W)
/// and skipping zero inputs (rows of W^T, since a is the previous ReLU's output). Which kernel
/// runs is the layer's plan entry; every kernel computes the same function (a layer's output
/// never depends on the plan, up to float summation order).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ccinfer/aligned.h"
#include "ccinfer/sign_estimator.h"

namespace ccinfer {

/// How a layer is computed for one sample.
enum class LayerKernel : int {
    kDense = 0,            ///< OpenBLAS sgemv over all rows (then the estimator's mask)
    kRows = 1,             ///< only the predicted rows of W (needs an estimator)
    kInputSparse = 2,      ///< sum over non-zero inputs of x_j W^T[j, :] (then the mask)
    kRowsInputSparse = 3,  ///< predicted rows and non-zero inputs only (needs an estimator)
};

const char* layer_kernel_name(LayerKernel kernel);
/// Throws std::invalid_argument for an unknown name.
LayerKernel parse_layer_kernel(const std::string& name);

/// The weights of one layer as given by the caller (copied at construction, except weight and
/// bias with in_place).
struct MlpLayerInit {
    const float* weight;  ///< (m, k) row-major
    const float* bias;    ///< (m,)
    int64_t m, k;
    const float* est_a = nullptr;  ///< (m, rank) or nullptr: no estimator
    const float* est_b = nullptr;  ///< (rank, k)
    int64_t rank = 0;
    float tau = 0.0f;
    /// Reference weight and bias where they lie instead of copying them (the kernels read W
    /// row-major as given; W^T and the estimator are still built): the caller keeps them alive
    /// and unchanged until the model is destroyed.
    bool in_place = false;
};

/// Counters of what the conditional forward passes did, per layer.
struct MlpLayerStats {
    int64_t samples = 0;
    int64_t rows_computed = 0;   ///< output units computed (m per sample when dense)
    int64_t inputs_nonzero = 0;  ///< non-zero input units seen
    int64_t macs = 0;            ///< multiply-adds done, estimator included
    // Filled only when accuracy tracking is on (it computes every layer densely as well).
    int64_t actual_positive = 0;  ///< units with W a + b > 0
    int64_t true_positive = 0;    ///< of those, the ones the estimator selected

    /// Adds another count of the same layer (a thread's share of a pass, say).
    MlpLayerStats& operator+=(const MlpLayerStats& o) {
        samples += o.samples;
        rows_computed += o.rows_computed;
        inputs_nonzero += o.inputs_nonzero;
        macs += o.macs;
        actual_positive += o.actual_positive;
        true_positive += o.true_positive;
        return *this;
    }
};

/// Scratch for one caller's forward passes; not shared between threads.
struct MlpWorkspace {
    AlignedBuffer<float> act[2];      ///< ping-pong activations, max width * batch
    AlignedBuffer<float> dense;       ///< dense pre-activations (accuracy tracking, masks)
    AlignedBuffer<float> scratch;     ///< estimator scratch
    AlignedBuffer<int32_t> rows;      ///< predicted rows of one sample
    AlignedBuffer<uint8_t> mask;      ///< predicted rows of a batch, (n, width) bytes
    AlignedBuffer<int32_t> nz_index;  ///< non-zero inputs of one sample, one block per thread
    AlignedBuffer<float> nz_value;
    AlignedBuffer<float> u;  ///< B a of the estimator, shared by the threads of a pass
    int nz_threads = 0;      ///< threads the nz blocks are sized for
    std::vector<MlpLayerStats> stats;
    std::vector<MlpLayerStats> shares;  ///< per thread and layer during a parallel pass
    bool track_accuracy = false;
    int64_t capacity = 0;  ///< samples the buffers hold
};

class CondMLP {
  public:
    /// Copies the layers. Throws std::invalid_argument if the widths do not chain, a layer is
    /// empty, the last layer has an estimator, or a rank is out of [1, min(m, k)].
    explicit CondMLP(const std::vector<MlpLayerInit>& layers);

    int64_t in_features() const { return layers_.front().k; }
    int64_t out_features() const { return layers_.back().m; }
    size_t num_layers() const { return layers_.size(); }
    /// The widest layer output: sizes a workspace.
    int64_t max_width() const;

    bool has_estimator(size_t layer) const { return layers_[layer].estimator != nullptr; }
    const SignEstimator* estimator(size_t layer) const { return layers_[layer].estimator.get(); }
    /// Replaces (or removes, with est_a == nullptr) the estimator of a hidden layer and resets
    /// its plan entry to kRows (kDense without an estimator).
    void set_estimator(size_t layer, const float* est_a, const float* est_b, int64_t rank,
                       float tau);
    void set_tau(size_t layer, float tau);

    /// When false, every layer is computed densely and no estimator runs (the control).
    bool estimators_enabled() const { return estimators_enabled_; }
    void set_estimators_enabled(bool on) { estimators_enabled_ = on; }

    const std::vector<LayerKernel>& plan() const { return plan_; }
    /// Throws std::invalid_argument if a rows kernel is asked for a layer without estimator.
    void set_plan(const std::vector<LayerKernel>& plan);

    /// Allocates a workspace for up to `batch` samples per call.
    MlpWorkspace make_workspace(int64_t batch = 1) const;

    /// One sample: y (out_features) from x (in_features). Stats accumulate into ws.stats.
    void forward(const float* x, float* y, MlpWorkspace& ws) const;

    /// A batch: Y (n, out_features) from X (n, in_features), per-sample masks. ws must hold n.
    /// Hidden layers with an estimator run cond_gemv_batch (each weight row read once for all
    /// the samples that need it; one sgemm when most pairs are active), the others sgemm.
    /// Row s of Y equals forward(X[s]) up to float summation order.
    void forward_batch(const float* x, int64_t n, float* y, MlpWorkspace& ws) const;

    /// Threads a single-sample forward uses (0: all). With one, the layers run one after the
    /// other on one thread (OpenBLAS for `dense`); with more, the whole pass is one parallel
    /// region: every thread owns a range of 64-row panels of each layer, predicts and computes
    /// its own rows, and waits at one barrier per layer (two with an estimator: B a is split
    /// too). OpenBLAS is never called inside it: `dense` layers run ccinfer's gemv there, so
    /// their rounding may differ from the one-thread pass. Set by autotune, or by hand.
    int single_sample_threads() const { return single_sample_threads_; }
    void set_single_sample_threads(int n) { single_sample_threads_ = n < 0 ? 0 : n; }

    /// Chooses each layer's kernel by timing whole forward passes over the samples X (n rows):
    /// layer by layer, every kernel that can run it, the other layers on their best kernels so
    /// far. Returns the median seconds per sample of the whole pass for each [layer][kernel]
    /// (NaN where a kernel cannot run) and keeps the fastest kernel per layer. Then times the
    /// whole pass on one thread against all threads and keeps the faster.
    std::vector<std::vector<double>> autotune(const float* x, int64_t n, int repeats);

    /// Read access for bindings and tests.
    const float* weight(size_t layer) const { return layers_[layer].w.data(); }
    const float* bias(size_t layer) const { return layers_[layer].b.data(); }
    int64_t layer_m(size_t layer) const { return layers_[layer].m; }
    int64_t layer_k(size_t layer) const { return layers_[layer].k; }

  private:
    struct Layer {
        int64_t m, k;
        AlignedBuffer<float> w;   ///< (m, k)
        AlignedBuffer<float> wt;  ///< (k, m): the same weights transposed, for input skipping
        AlignedBuffer<float> b;
        std::unique_ptr<SignEstimator> estimator;
    };

    /// Thread ith's share of layer l for one sample, out of nth threads (nth = 1: the whole
    /// layer, on the calling thread): the output rows of its slice of 64-row panels from a
    /// (k floats) into y (m floats), with the estimator's prediction for those rows, the
    /// ReLU of a hidden layer, and the share's counts added to stats (the per-sample counts
    /// go with share 0). Runs the layer's plan entry. With nth > 1 every thread of the team
    /// must call it: they wait at one barrier after the estimator's projection B a, which
    /// they split by rows.
    void layer_forward(size_t l, int ith, int nth, const float* a, float* y, MlpWorkspace& ws,
                       MlpLayerStats& stats) const;

    /// Thread ith's share of the whole single-sample pass (every layer, a barrier between
    /// layers when nth > 1), counts into stats[0 .. num_layers).
    void forward_share(const float* x, float* y, MlpWorkspace& ws, int ith, int nth,
                       MlpLayerStats* stats) const;

    std::vector<Layer> layers_;
    AlignedBuffer<int32_t> iota_;  ///< 0, 1, 2, ...: every row of the widest layer
    std::vector<LayerKernel> plan_;
    /// Threads one single-sample forward may use (0: all of get_num_threads()). Chosen by
    /// autotune: at MNIST sizes a layer is a few microseconds and a fork/join per op costs more
    /// than the second thread saves.
    int single_sample_threads_ = 0;
    bool estimators_enabled_ = true;
};

}  // namespace ccinfer
