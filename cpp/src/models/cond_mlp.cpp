#include "ccinfer/cond_mlp.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/cond_gemv_batch.h"
#include "ccinfer/dense.h"
#include "ccinfer/finite.h"
#include "ccinfer/sizes.h"
#include "ccinfer/sparse_input_gemv.h"
#include "ccinfer/threads.h"

namespace ccinfer {
namespace {

constexpr LayerKernel kAllKernels[] = {LayerKernel::kDense, LayerKernel::kRows,
                                       LayerKernel::kInputSparse, LayerKernel::kRowsInputSparse};

bool needs_estimator(LayerKernel kernel) {
    return kernel == LayerKernel::kRows || kernel == LayerKernel::kRowsInputSparse;
}

void relu_rows(float* y, const int32_t* rows, int64_t nrows) {
    for (int64_t i = 0; i < nrows; ++i) y[rows[i]] = std::max(y[rows[i]], 0.0f);
}

void relu(float* y, int64_t m) {
    for (int64_t i = 0; i < m; ++i) y[i] = std::max(y[i], 0.0f);
}

/// Keeps y[rows - offset] and zeroes the rest of y[0:m]: the estimator's mask applied after a
/// dense kernel (rows ascending, in [offset, offset + m)).
void keep_rows(float* y, int64_t m, const int32_t* rows, int64_t nrows, int64_t offset = 0) {
    int64_t next = 0;
    for (int64_t i = 0; i < nrows; ++i) {
        const int64_t r = rows[i] - offset;
        std::fill(y + next, y + r, 0.0f);
        next = r + 1;
    }
    std::fill(y + next, y + m, 0.0f);
}

}  // namespace

const char* layer_kernel_name(LayerKernel kernel) {
    switch (kernel) {
        case LayerKernel::kDense:
            return "dense";
        case LayerKernel::kRows:
            return "rows";
        case LayerKernel::kInputSparse:
            return "input_sparse";
        case LayerKernel::kRowsInputSparse:
            return "rows_input_sparse";
    }
    return "unknown";
}

LayerKernel parse_layer_kernel(const std::string& name) {
    for (LayerKernel kernel : kAllKernels)
        if (name == layer_kernel_name(kernel)) return kernel;
    throw std::invalid_argument(str("CondMLP: unknown layer kernel '", name,
                                    "', expected dense, rows, input_sparse or rows_input_sparse"));
}

CondMLP::CondMLP(const std::vector<MlpLayerInit>& layers) {
    CCINFER_CHECK(!layers.empty(), "CondMLP: needs at least one layer");
    for (size_t l = 0; l < layers.size(); ++l) {
        const MlpLayerInit& init = layers[l];
        CCINFER_CHECK(init.m >= 1 && init.k >= 1, "CondMLP: layer ", l,
                      ": weight must not be empty");
        CCINFER_CHECK(l == 0 || init.k == layers[l - 1].m, "CondMLP: layer ", l, ": input width ",
                      init.k, " does not match the previous layer's output width ",
                      layers[l - 1].m);
        Layer layer;
        layer.m = init.m;
        layer.k = init.k;
        const auto mk = static_cast<size_t>(init.m * init.k), m = static_cast<size_t>(init.m);
        layer.w = init.in_place ? AlignedBuffer<float>::borrowed(init.weight, mk)
                                : AlignedBuffer<float>(init.weight, mk);
        layer.b = init.in_place ? AlignedBuffer<float>::borrowed(init.bias, m)
                                : AlignedBuffer<float>(init.bias, m);
        layer.wt = AlignedBuffer<float>(init.m * init.k);
        for (int64_t i = 0; i < init.m; ++i)
            for (int64_t j = 0; j < init.k; ++j)
                layer.wt[j * init.m + i] = init.weight[i * init.k + j];
        layers_.push_back(std::move(layer));
        plan_.push_back(LayerKernel::kDense);
    }
    iota_ = AlignedBuffer<int32_t>(max_width());
    for (int64_t i = 0; i < max_width(); ++i) iota_[i] = static_cast<int32_t>(i);
    for (size_t l = 0; l < layers.size(); ++l)
        if (layers[l].est_a)
            set_estimator(l, layers[l].est_a, layers[l].est_b, layers[l].rank, layers[l].tau);
}

int64_t CondMLP::max_width() const {
    int64_t width = layers_.front().k;
    for (const Layer& layer : layers_) width = std::max(width, layer.m);
    return width;
}

void CondMLP::set_estimator(size_t l, const float* est_a, const float* est_b, int64_t rank,
                            float tau) {
    CCINFER_CHECK(l < layers_.size(), "CondMLP: no layer ", l);
    CCINFER_CHECK(l + 1 < layers_.size() || !est_a,
                  "CondMLP: the output layer cannot have an estimator");
    Layer& layer = layers_[l];
    if (!est_a) {
        layer.estimator.reset();
        plan_[l] = LayerKernel::kDense;
        return;
    }
    CCINFER_CHECK(rank >= 1 && rank <= std::min(layer.m, layer.k), "CondMLP: layer ", l, ": rank ",
                  rank, " is out of [1, ", std::min(layer.m, layer.k), "]");
    layer.estimator =
        std::make_unique<SignEstimator>(est_a, est_b, layer.b.data(), layer.m, rank, layer.k, tau);
    plan_[l] = LayerKernel::kRows;
}

void CondMLP::set_tau(size_t l, float tau) {
    CCINFER_CHECK(l < layers_.size() && layers_[l].estimator, "CondMLP: layer ", l,
                  " has no estimator");
    layers_[l].estimator->set_tau(tau);
}

void CondMLP::set_plan(const std::vector<LayerKernel>& plan) {
    CCINFER_CHECK(plan.size() == layers_.size(), "CondMLP: plan needs ", layers_.size(),
                  " entries, got ", plan.size());
    for (size_t l = 0; l < plan.size(); ++l)
        CCINFER_CHECK(!needs_estimator(plan[l]) || layers_[l].estimator, "CondMLP: layer ", l,
                      " has no estimator, so it cannot run '", layer_kernel_name(plan[l]), "'");
    plan_ = plan;
}

MlpWorkspace CondMLP::make_workspace(int64_t batch) const {
    MlpWorkspace ws;
    const int64_t width = max_width();
    int64_t max_rank = 1;
    for (const Layer& layer : layers_)
        if (layer.estimator) max_rank = std::max(max_rank, layer.estimator->rank());
    ws.capacity = std::max<int64_t>(batch, 1);
    check_alloc(str("CondMLP: a workspace for ", ws.capacity, " samples"), width, ws.capacity,
                3 * sizeof(float));
    ws.act[0] = AlignedBuffer<float>(width * ws.capacity);
    ws.act[1] = AlignedBuffer<float>(width * ws.capacity);
    ws.dense = AlignedBuffer<float>(width * ws.capacity);
    ws.scratch = AlignedBuffer<float>(max_rank * ws.capacity);
    ws.rows = AlignedBuffer<int32_t>(width);
    ws.mask = AlignedBuffer<uint8_t>(width * ws.capacity);
    ws.nz_threads = std::max(1, omp_get_max_threads());
    ws.nz_index = AlignedBuffer<int32_t>(width * ws.nz_threads);
    ws.nz_value = AlignedBuffer<float>(width * ws.nz_threads);
    ws.u = AlignedBuffer<float>(max_rank);
    ws.stats.assign(layers_.size(), MlpLayerStats{});
    return ws;
}

void CondMLP::layer_forward(size_t l, int ith, int nth, const float* a, float* y, MlpWorkspace& ws,
                            MlpLayerStats& stats) const {
    const Layer& layer = layers_[l];
    const int64_t m = layer.m, k = layer.k;
    const bool hidden = l + 1 < layers_.size();
    const bool estimate = estimators_enabled_ && layer.estimator != nullptr;
    LayerKernel kernel = plan_[l];
    if (!estimate && needs_estimator(kernel)) kernel = LayerKernel::kDense;
    const kernels::KernelTable& kt = kernels::active();

    // This thread's outputs [m0, m1): whole 64-row panels, so every output row is computed by
    // the same kernel calls whatever the thread count (threads.h).
    static_assert(kSliceAlign == SignEstimator::kPanelRows, "slices are whole panels");
    const int64_t m0 = aligned_slice_start(m, ith, nth);
    const int64_t m1 = aligned_slice_start(m, ith + 1, nth);
    CCINFER_DCHECK(0 <= m0 && m0 <= m1 && m1 <= m);

    // The rows to compute: all of the slice, or the ones the estimator predicts active. B a is
    // split by its rows between the threads, so they all wait for it before predicting.
    const int32_t* rows = iota_.data() + m0;
    int64_t nrows = m1 - m0;
    if (estimate) {
        const int64_t r = layer.estimator->rank();
        layer.estimator->project(a, r * ith / nth, r * (ith + 1) / nth, ws.u.data());
        if (nth > 1) {
#pragma omp barrier
        }
        int32_t* mine = ws.rows.data() + m0;  // disjoint per thread
        const int64_t p0 = m0 / SignEstimator::kPanelRows;
        const int64_t p1 = (m1 + SignEstimator::kPanelRows - 1) / SignEstimator::kPanelRows;
        nrows = m1 > m0 ? layer.estimator->predict_panels(ws.u.data(), p0, p1, mine) : 0;
        rows = mine;
    }

    const bool only_rows = kernel == LayerKernel::kRows || kernel == LayerKernel::kRowsInputSparse;
    const bool input_sparse =
        kernel == LayerKernel::kInputSparse || kernel == LayerKernel::kRowsInputSparse;
    int32_t* nz_index = ws.nz_index.data() + ith * max_width();
    float* nz_value = ws.nz_value.data() + ith * max_width();
    const int64_t nnz = input_sparse ? gather_nonzero(a, k, nz_index, nz_value) : 0;
    if (only_rows) std::fill(y + m0, y + m1, 0.0f);
    int64_t macs = 0;
    switch (kernel) {
        case LayerKernel::kDense:
            if (nth == 1) {
                // Alone, the whole layer is one OpenBLAS sgemv; inside a parallel region
                // OpenBLAS is never called, so the threads run ccinfer's gemv on their slices
                // (rounding may differ between the two: cond_mlp.h).
                dense_gemv(layer.w.data(), m, k, k, a, y);
                for (int64_t i = 0; i < m; ++i) y[i] += layer.b[i];
            } else {
                kt.gemv_rows(layer.w.data(), k, k, a, iota_.data() + m0, m1 - m0, layer.b.data(),
                             y);
            }
            macs = (m1 - m0) * k;
            break;
        case LayerKernel::kRows:
            kt.gemv_rows(layer.w.data(), k, k, a, rows, nrows, layer.b.data(), y);
            macs = nrows * k;
            break;
        case LayerKernel::kInputSparse:
            if (m1 > m0)
                kt.sparse_input_cols(layer.wt.data(), m, nz_index, nz_value, nnz, m0, m1,
                                     layer.b.data(), y);
            macs = nnz * (m1 - m0);
            break;
        case LayerKernel::kRowsInputSparse:
            // Every row of the slice predicted: the column kernel gives the same bits faster.
            if (nrows == m1 - m0 && m1 > m0)
                kt.sparse_input_cols(layer.wt.data(), m, nz_index, nz_value, nnz, m0, m1,
                                     layer.b.data(), y);
            else
                kt.sparse_input_rows(layer.wt.data(), m, m, nz_index, nz_value, nnz, rows, nrows,
                                     layer.b.data(), y);
            macs = nnz * nrows;
            break;
    }
    if (hidden) {
        if (only_rows) {
            relu_rows(y, rows, nrows);
        } else {
            relu(y + m0, m1 - m0);
            if (estimate) keep_rows(y + m0, m1 - m0, rows, nrows, m0);
        }
    }

    // This share's counts; what belongs to the sample as a whole goes with share 0.
    stats.rows_computed += nrows;
    stats.macs += macs;
    if (ith == 0) {
        int64_t nonzero = nnz;
        if (!input_sparse)
            for (int64_t j = 0; j < k; ++j) nonzero += a[j] != 0.0f;  // vectorises
        stats.samples += 1;
        stats.inputs_nonzero += nonzero;
        if (estimate) stats.macs += layer.estimator->rank() * (m + k);
    }
    if (ws.track_accuracy && hidden) {
        // Exact accounting: the dense pre-activation of every unit, compared with the rows.
        // OpenBLAS, so only on the one-thread pass (forward runs that when tracking).
        CCINFER_DCHECK(nth == 1);
        float* z = ws.dense.data();
        dense_gemv(layer.w.data(), m, k, k, a, z);
        int64_t r = 0;
        for (int64_t i = 0; i < m; ++i) {
            const bool positive = z[i] + layer.b[i] > 0.0f;
            const bool selected = r < nrows && rows[r] == i;
            r += selected;
            stats.actual_positive += positive;
            stats.true_positive += positive && selected;
        }
    }
}

void CondMLP::forward_share(const float* x, float* y, MlpWorkspace& ws, int ith, int nth,
                            MlpLayerStats* stats) const {
    const float* a = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
        float* out = l + 1 == layers_.size() ? y : ws.act[l % 2].data();
        layer_forward(l, ith, nth, a, out, ws, stats[l]);
        if (nth > 1) {  // the next layer reads every thread's outputs
#pragma omp barrier
        }
        a = out;
    }
}

namespace {

/// Lowers the calling thread's OpenMP thread count for a scope (libgomp keeps it per thread,
/// so concurrent callers do not see each other's setting).
class ThreadLimit {
  public:
    explicit ThreadLimit(int limit) : previous_(omp_get_max_threads()) {
        if (limit > 0 && limit < previous_) omp_set_num_threads(limit);
    }
    ~ThreadLimit() { omp_set_num_threads(previous_); }

  private:
    int previous_;
};

}  // namespace

void CondMLP::forward(const float* x, float* y, MlpWorkspace& ws) const {
    check_finite("CondMLP.forward", "x", x, in_features());
    const int all = omp_get_max_threads();
    int nth = single_sample_threads_ > 0 ? std::min(single_sample_threads_, all) : all;
    if (ws.track_accuracy) nth = 1;  // its dense reference pass calls OpenBLAS
    if (nth <= 1) {
        const ThreadLimit limit(1);
        forward_share(x, y, ws, 0, 1, ws.stats.data());
        return;
    }
    const size_t num_layers = layers_.size();
    if (ws.nz_threads < nth) {  // the thread count grew since the workspace was made
        ws.nz_threads = nth;
        ws.nz_index = AlignedBuffer<int32_t>(max_width() * nth);
        ws.nz_value = AlignedBuffer<float>(max_width() * nth);
    }
    ws.shares.assign(static_cast<size_t>(nth) * num_layers, MlpLayerStats{});
#pragma omp parallel num_threads(nth)
    {
        const int ith = omp_get_thread_num();
        const int team = omp_get_num_threads();  // may be fewer than asked
        forward_share(x, y, ws, ith, team, ws.shares.data() + ith * num_layers);
    }
    for (int t = 0; t < nth; ++t)
        for (size_t l = 0; l < num_layers; ++l) ws.stats[l] += ws.shares[t * num_layers + l];
}

void CondMLP::forward_batch(const float* x, int64_t n, float* y, MlpWorkspace& ws) const {
    check_finite("CondMLP.forward", "x", x, checked_mul(n, in_features(), "CondMLP.forward"),
                 in_features());
    CCINFER_CHECK(n <= ws.capacity, "CondMLP: workspace holds ", ws.capacity,
                  " samples, batch has ", n);
    const float* a = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
        const Layer& layer = layers_[l];
        const int64_t m = layer.m, k = layer.k;
        const bool hidden = l + 1 < layers_.size();
        float* out = hidden ? ws.act[l % 2].data() : y;
        MlpLayerStats& stats = ws.stats[l];
        int64_t nonzero = 0;
        for (int64_t i = 0; i < n * k; ++i) nonzero += a[i] != 0.0f;
        stats.samples += n;
        stats.inputs_nonzero += nonzero;
        if (estimators_enabled_ && layer.estimator) {
            uint8_t* mask = ws.mask.data();
            layer.estimator->predict_batch(a, n, mask, ws.scratch.data());
            int64_t active = 0;
            for (int64_t i = 0; i < n * m; ++i) active += mask[i];
            std::memset(out, 0, sizeof(float) * n * m);
            cond_gemv_batch(layer.w.data(), m, k, a, n, mask, layer.b.data(), out);
            relu(out, n * m);
            stats.rows_computed += active;
            stats.macs += n * layer.estimator->rank() * (m + k) + active * k;
            if (ws.track_accuracy) {
                float* z = ws.dense.data();
                dense_gemm(layer.w.data(), m, k, a, n, z);
                for (int64_t s = 0; s < n; ++s)
                    for (int64_t i = 0; i < m; ++i) {
                        const bool positive = z[s * m + i] + layer.b[i] > 0.0f;
                        stats.actual_positive += positive;
                        stats.true_positive += positive && mask[s * m + i];
                    }
            }
        } else {
            dense_gemm(layer.w.data(), m, k, a, n, out);
            for (int64_t s = 0; s < n; ++s) {
                float* row = out + s * m;
                for (int64_t i = 0; i < m; ++i) row[i] += layer.b[i];
                if (hidden) relu(row, m);
            }
            stats.rows_computed += n * m;
            stats.macs += n * m * k;
            if (ws.track_accuracy && hidden)
                for (int64_t i = 0; i < n * m; ++i) {
                    stats.actual_positive += out[i] > 0.0f;
                    stats.true_positive += out[i] > 0.0f;
                }
        }
        a = out;
    }
}

std::vector<std::vector<double>> CondMLP::autotune(const float* x, int64_t n, int repeats) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<std::vector<double>> seconds(layers_.size(), std::vector<double>(4, nan));
    MlpWorkspace ws = make_workspace(1);
    std::vector<float> y(out_features());
    // Whole forward passes, not one layer in isolation: in a real pass each layer's weights
    // arrive from L3 after the other layers have run, and that decides which kernel wins.
    // Layers are tuned in order, each with the best kernels found so far for the others.
    for (size_t l = 0; l < layers_.size(); ++l) {
        double best = std::numeric_limits<double>::infinity();
        LayerKernel best_kernel = plan_[l];
        for (LayerKernel kernel : kAllKernels) {
            if (needs_estimator(kernel) && !(layers_[l].estimator && estimators_enabled_)) continue;
            plan_[l] = kernel;
            std::vector<double> times;
            for (int rep = 0; rep < repeats; ++rep) {
                const auto t0 = std::chrono::steady_clock::now();
                for (int64_t s = 0; s < n; ++s) forward(x + s * in_features(), y.data(), ws);
                const auto t1 = std::chrono::steady_clock::now();
                times.push_back(std::chrono::duration<double>(t1 - t0).count() / n);
            }
            std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
            const double median = times[times.size() / 2];
            seconds[l][static_cast<int>(kernel)] = median;
            if (median < best) {
                best = median;
                best_kernel = kernel;
            }
        }
        plan_[l] = best_kernel;
    }
    // One thread or all for the whole single-sample pass, by the same measurement.
    double best_time = std::numeric_limits<double>::infinity();
    int best_threads = 0;
    for (int threads : {1, 0}) {
        single_sample_threads_ = threads;
        std::vector<double> times;
        for (int rep = 0; rep < repeats; ++rep) {
            const auto t0 = std::chrono::steady_clock::now();
            for (int64_t s = 0; s < n; ++s) forward(x + s * in_features(), y.data(), ws);
            times.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
        if (times[times.size() / 2] < best_time) {
            best_time = times[times.size() / 2];
            best_threads = threads;
        }
    }
    single_sample_threads_ = best_threads;
    return seconds;
}

}  // namespace ccinfer
