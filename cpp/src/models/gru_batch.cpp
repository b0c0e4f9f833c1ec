// GRUStack::step_batch: one time step of n independent streams (the server path), layer by
// layer, each layer's kind doing its own batch step (gru_layer_<kind>.cpp), then the output
// head.
#include <omp.h>

#include <algorithm>

#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/finite.h"
#include "ccinfer/gru.h"
#include "ccinfer/sizes.h"
#include "ccinfer/threads.h"
#include "gru_layer.h"

namespace ccinfer {

void GRUStack::step_batch(const int32_t* tokens, GRUState& state, float* logits,
                          GruWorkspace& ws) const {
    const char* fn = "GRUStack.step";
    CCINFER_CHECK(token_input_, fn, ": this model takes vectors of ", input_size(),
                  " floats, not token ids");
    const int64_t n = state.batch();
    check_tokens(fn, tokens, n, "sample");
    check_step(fn, state, n, ws);
    GRUState::Lock lock(fn, state, true);
    step_batch_impl(tokens, nullptr, state, logits, ws);
}

void GRUStack::step_batch(const float* x, GRUState& state, float* logits, GruWorkspace& ws) const {
    const char* fn = "GRUStack.step";
    CCINFER_CHECK(!token_input_, fn, ": this model takes token ids, not vectors");
    check_finite(fn, "X", x, checked_mul(state.batch(), input_size(), fn), input_size());
    check_step(fn, state, state.batch(), ws);
    GRUState::Lock lock(fn, state, true);
    step_batch_impl(nullptr, x, state, logits, ws);
}

void GRUStack::step_batch_impl(const int32_t* tokens, const float* x, GRUState& state,
                               float* logits, GruWorkspace& ws) const {
    const detail::BatchPanels& panels = batch_panels();
    const int64_t n = state.batch();
    const float* xin = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
        ws.cursor[l] = 0;
        const detail::BatchStep b{tokens, xin, state.h(l), n, panels.layers[l], ws, &ws.cursor[l]};
        const int64_t active = layers_[l]->step_batch(b);
        layers_[l]->count(ws.stats[l], n, active);
        xin = b.H;
    }
    // The output head: the block kernel, the samples split among the threads (as in the z
    // paths, no sum depends on the split).
    const int64_t hl = layers_.back()->h();
    const int nth = std::min<int64_t>(std::min(threads_for_work(n * v_out_ * hl), ws.threads), n);
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int ith = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        const int64_t s0 = n * ith / nt, s1 = n * (ith + 1) / nt;
        if (s1 > s0) {
            kernels::active().block_gemm(w_out_.data(), hl, v_out_, hl, xin + s0 * hl, hl, nullptr,
                                         s1 - s0, logits + s0 * v_out_, v_out_);
            detail::add_bias(logits + s0 * v_out_, s1 - s0, v_out_, b_out_.data());
        }
    }
    for (int64_t s = 0; s < n; ++s) state.steps_[s] += 1;
}

}  // namespace ccinfer
