// GRUStack: the state, construction and the single-stream step, which composes the layers
// (one class per kind, gru_layer.h). The batch step is in gru_batch.cpp.
#include "ccinfer/gru.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/finite.h"
#include "ccinfer/sizes.h"
#include "ccinfer/threads.h"
#include "gru_layer.h"
#include "gru_panels.h"

namespace ccinfer {
namespace {

std::atomic<uint64_t> g_next_model_id{1};

}  // namespace

GRUState::Lock::Lock(const char* fn, const GRUState& state, bool exclusive)
    : state_(state), exclusive_(exclusive) {
    if (exclusive) {
        int idle = 0;  // only a state nobody holds can be taken exclusively
        if (state_.users_.compare_exchange_strong(idle, -1, std::memory_order_acquire)) return;
        CCINFER_CHECK(false, fn,
                      ": state is in use by another call (a step, run, or a read of it; one "
                      "state per stream: make one per thread with new_state())");
    }
    int users = state_.users_.load(std::memory_order_relaxed);
    while (users >= 0)
        if (state_.users_.compare_exchange_weak(users, users + 1, std::memory_order_acquire))
            return;
    CCINFER_CHECK(false, fn, ": state is in use by a step");
}

GRUState::Lock::~Lock() {
    if (exclusive_)
        state_.users_.store(0, std::memory_order_release);
    else
        state_.users_.fetch_sub(1, std::memory_order_release);
}

void GRUState::reset() {
    Lock lock("GRUState.reset", *this, true);
    for (size_t l = 0; l < h_.size(); ++l) std::fill_n(h_[l].data(), n_ * widths_[l], 0.0f);
    std::fill(steps_.begin(), steps_.end(), 0);
}

std::unique_ptr<GRUState> GRUState::detached(int64_t n, const std::vector<int64_t>& widths,
                                             std::vector<int64_t> steps) {
    CCINFER_CHECK(n >= 1 && !widths.empty(),
                  "GRUState: a state needs at least one stream and one layer");
    CCINFER_CHECK(steps.empty() || static_cast<int64_t>(steps.size()) == n,
                  "GRUState: one step count per stream");
    for (int64_t w : widths) CCINFER_CHECK(w >= 1, "GRUState: layer widths must be >= 1");
    auto s = std::make_unique<GRUState>();
    s->n_ = n;
    for (int64_t w : widths) {
        s->widths_.push_back(w);
        s->h_.emplace_back(checked_mul(n, w, "GRUState"));
    }
    s->reset();
    s->steps_ = steps.empty() ? std::vector<int64_t>(n, 0) : std::move(steps);
    return s;
}

std::unique_ptr<GRUState> GRUState::clone() const {
    Lock lock("GRUState.copy", *this, false);
    auto s = std::make_unique<GRUState>();
    s->model_id_ = model_id_.load();
    s->n_ = n_;
    s->widths_ = widths_;
    s->steps_ = steps_;
    for (size_t l = 0; l < h_.size(); ++l) s->h_.emplace_back(h_[l].data(), h_[l].size());
    return s;
}

void GRUState::copy_stream(const GRUState& src, int64_t from, int64_t to) {
    const char* fn = "GRUState.copy_stream";
    // A detached side has no model to compare; equal widths make the copy well defined.
    const bool detached = src.model_id_ == 0 || model_id_ == 0;
    CCINFER_CHECK(detached ? src.widths_ == widths_ : src.model_id_ == model_id_, fn,
                  ": the source state belongs to another model");
    CCINFER_CHECK(from >= 0 && from < src.n_ && to >= 0 && to < n_, fn,
                  ": stream index out of range (source ", from, " of ", src.n_, ", destination ",
                  to, " of ", n_, ")");
    Lock lock(fn, *this, true);
    if (&src == this) {
        if (from == to) return;
    }
    // The source is read under its own shared hold (unless it is this state, held already).
    std::unique_ptr<Lock> read = &src == this ? nullptr : std::make_unique<Lock>(fn, src, false);
    for (size_t l = 0; l < h_.size(); ++l)
        std::memcpy(h_[l].data() + to * widths_[l], src.h_[l].data() + from * widths_[l],
                    sizeof(float) * widths_[l]);
    steps_[to] = src.steps_[from];
}

void GRUState::get_h(size_t layer, float* out) const {
    Lock lock("GRUState.get_h", *this, false);
    std::memcpy(out, h_[layer].data(), sizeof(float) * n_ * widths_[layer]);
}

void GRUState::set_h(size_t layer, const float* h) {
    const char* fn = "GRUState.set_h";
    check_finite(fn, "h", h, n_ * widths_[layer], widths_[layer]);
    Lock lock(fn, *this, true);
    std::memcpy(h_[layer].data(), h, sizeof(float) * n_ * widths_[layer]);
}

std::vector<int64_t> GRUState::steps() const {
    Lock lock("GRUState.steps", *this, false);
    return steps_;
}

GRUStack::GRUStack(const std::vector<GruLayerInit>& layers, bool token_input, const float* w_out,
                   const float* b_out, int64_t v_out)
    : token_input_(token_input), v_out_(v_out), id_(g_next_model_id.fetch_add(1)) {
    CCINFER_CHECK(!layers.empty(), "GRUStack: needs at least one layer");
    CCINFER_CHECK(v_out >= 1 && w_out && b_out,
                  "GRUStack: needs an output layer with at least one output");
    int64_t iota = v_out;
    for (size_t l = 0; l < layers.size(); ++l) {
        const GruLayerInit& in = layers[l];
        const std::string where = str("GRUStack: layer ", l, ": ");
        CCINFER_CHECK(l == 0 || in.d == layers[l - 1].h, where, "input width ", in.d,
                      " does not match the previous layer's hidden width ", layers[l - 1].h);
        layers_.push_back(detail::make_gru_layer(in, token_input && l == 0, where));
        const detail::GruLayer& L = *layers_.back();
        h_max_ = std::max(h_max_, L.h());
        r_max_ = std::max(r_max_, L.rank());
        iota = std::max({iota, 3 * L.h(), L.rank()});
    }
    w_out_ = AlignedBuffer<float>(w_out, v_out * layers_.back()->h());
    b_out_ = AlignedBuffer<float>(b_out, v_out);
    iota_ = AlignedBuffer<int32_t>(iota);
    std::iota(iota_.data(), iota_.data() + iota, 0);
    panels_ = std::make_shared<detail::BatchPanels>();
}

int64_t GRUStack::input_size() const { return layers_.front()->d(); }
GruKind GRUStack::kind(size_t l) const { return layers_[l]->kind(); }
int64_t GRUStack::hidden(size_t l) const { return layers_[l]->h(); }
int64_t GRUStack::rank(size_t l) const { return layers_[l]->rank(); }

const detail::BatchPanels& GRUStack::batch_panels() const {
    std::call_once(panels_->once, [this] {
        const int threads = get_num_threads();
        std::vector<detail::LayerPanels> packed;
        for (const auto& L : layers_) packed.push_back(L->pack(threads));
        panels_->layers = std::move(packed);
    });
    return *panels_;
}

std::unique_ptr<GRUState> GRUStack::new_state(int64_t n) const {
    const char* fn = "GRUStack.new_state";
    CCINFER_CHECK(n >= 1, fn, ": a state needs at least one stream, got ", n);
    int64_t hsum = 0;
    for (const auto& L : layers_) hsum += L->h();  // widths are bounded by the weights' sizes
    check_alloc(str(fn, ": a state of ", n, " streams"), n, hsum, sizeof(float));
    auto s = std::make_unique<GRUState>();
    s->model_id_ = id_;
    s->n_ = n;
    for (const auto& L : layers_) {
        const int64_t h = L->h();
        s->widths_.push_back(h);
        s->h_.emplace_back(n * h);
        std::fill_n(s->h_.back().data(), n * h, 0.0f);
    }
    s->steps_.assign(n, 0);
    return s;
}

GruWorkspace GRUStack::make_workspace(int64_t batch) const {
    GruWorkspace ws;
    ws.capacity = std::max<int64_t>(batch, 1);
    ws.threads = std::max(get_num_threads(), 1);
    ws.h_max = h_max_;
    ws.r_max = r_max_;
    const int64_t n = ws.capacity;
    const int64_t width = std::max(3 * h_max_, v_out_);
    int64_t hsum = 0;
    for (const auto& L : layers_) hsum += L->h();
    const int64_t per = std::max<int64_t>(n, ws.threads);  // batch rows or per-thread slices
    // Every product below is at most per * (2 width + 3 r_max + 3 h_max) elements of 4 bytes
    // or fewer (and the thread counts are bounded by set_num_threads): one check for all.
    check_alloc(str("GRUStack: a workspace for ", n, " streams"), per,
                2 * width + 3 * r_max_ + 3 * h_max_, 2 * sizeof(float));
    ws.gx = AlignedBuffer<float>(n * width);
    ws.gh = AlignedBuffer<float>(n * width);
    ws.zlr = AlignedBuffer<float>(per * 2 * r_max_);
    ws.z = AlignedBuffer<float>(per * h_max_);
    ws.hnew = AlignedBuffer<float>(hsum);
    ws.rows = AlignedBuffer<int32_t>(ws.threads * 2 * h_max_);
    ws.units = AlignedBuffer<int32_t>(ws.threads * h_max_);
    ws.mask = AlignedBuffer<uint8_t>(n * 2 * h_max_);
    ws.gates = AlignedBuffer<float>(n * r_max_);
    ws.samples = AlignedBuffer<int32_t>(ws.threads * n);
    ws.zlr_nz = AlignedBuffer<int32_t>(ws.threads * r_max_);
    ws.stats.assign(layers_.size(), GruLayerStats{});
    ws.active.assign(layers_.size(), 0);
    ws.cursor.assign(layers_.size(), 0);
    return ws;
}

int64_t GRUStack::dense_macs() const {
    int64_t macs = v_out_ * layers_.back()->h();
    for (const auto& L : layers_) macs += 3 * L->h() * (L->in_width() + L->h());
    return macs;
}

void GRUStack::check_step(const char* fn, GRUState& state, int64_t n,
                          const GruWorkspace& ws) const {
    const uint64_t owner = state.model_id_.load();
    if (owner == 0) {
        bool fits = state.widths_.size() == layers_.size();
        for (size_t l = 0; fits && l < layers_.size(); ++l)
            fits = state.widths_[l] == layers_[l]->h();
        CCINFER_CHECK(fits, fn, ": the restored state's layer widths do not match this model's");
    } else {
        CCINFER_CHECK(owner == id_, fn, ": state belongs to another model (made by model #", owner,
                      ", this is model #", id_, ")");
    }
    CCINFER_CHECK(state.n_ == n, fn, ": state holds ", state.n_, " stream(s), the input has ", n);
    CCINFER_CHECK(ws.capacity >= n && ws.stats.size() == layers_.size(), fn, ": workspace holds ",
                  ws.capacity, " stream(s), needs ", n);
    // A detached state (restored from its arrays) joins the first model it fits; atomically,
    // so two models stepping it at once cannot both claim it.
    uint64_t expected = 0;
    CCINFER_CHECK(
        owner != 0 || state.model_id_.compare_exchange_strong(expected, id_) || expected == id_, fn,
        ": the restored state was just bound to model #", expected);
}

void GRUStack::check_tokens(const char* fn, const int32_t* tokens, int64_t n,
                            const char* what) const {
    CCINFER_CHECK(token_input_, fn, ": this model takes vectors of ", input_size(),
                  " floats, not token ids");
    const bool say_which = n > 1 || what[0] != '\0';
    for (int64_t t = 0; t < n; ++t)
        CCINFER_CHECK(tokens[t] >= 0 && tokens[t] < input_size(), fn, ": token id ", tokens[t],
                      say_which ? str(" (", what, " ", t, ")") : std::string(),
                      " is out of range [0, ", input_size(), ")");
}

void GRUStack::step(int32_t token, GRUState& state, float* logits, GruWorkspace& ws) const {
    const char* fn = "GRUStack.step";
    check_tokens(fn, &token, 1, "");
    check_step(fn, state, 1, ws);
    GRUState::Lock lock(fn, state, true);
    step_impl(token, nullptr, state, logits, ws);
}

void GRUStack::step(const float* x, GRUState& state, float* logits, GruWorkspace& ws) const {
    const char* fn = "GRUStack.step";
    CCINFER_CHECK(!token_input_, fn, ": this model takes token ids, not vectors");
    check_finite(fn, "x", x, input_size());
    check_step(fn, state, 1, ws);
    GRUState::Lock lock(fn, state, true);
    step_impl(0, x, state, logits, ws);
}

void GRUStack::run(const int32_t* tokens, int64_t T, GRUState& state, float* logits,
                   GruWorkspace& ws) const {
    const char* fn = "GRUStack.run";
    check_tokens(fn, tokens, T, "step");
    check_step(fn, state, 1, ws);
    GRUState::Lock lock(fn, state, true);  // for every step: the run is one call
    for (int64_t t = 0; t < T; ++t) step_impl(tokens[t], nullptr, state, logits + t * v_out_, ws);
}

void GRUStack::run(const float* x, int64_t T, GRUState& state, float* logits,
                   GruWorkspace& ws) const {
    const char* fn = "GRUStack.run";
    CCINFER_CHECK(!token_input_, fn, ": this model takes token ids, not vectors");
    const int64_t d = input_size();
    check_finite(fn, "sequence", x, checked_mul(T, d, fn), d);
    check_step(fn, state, 1, ws);
    GRUState::Lock lock(fn, state, true);
    for (int64_t t = 0; t < T; ++t) step_impl(0, x + t * d, state, logits + t * v_out_, ws);
}

void GRUStack::step_impl(int32_t token, const float* x, GRUState& state, float* logits,
                         GruWorkspace& ws) const {
    const size_t nl = layers_.size();
    int64_t work = v_out_ * layers_.back()->h();
    for (const auto& L : layers_) work += 2 * L->h() * (L->in_width() + L->h());
    const int nth = std::min(threads_for_work(work / kGruStepWorkPerThreadScale), ws.threads);
    int64_t* active = ws.active.data();  // active units per layer, for the stats
    std::fill(ws.cursor.begin(), ws.cursor.end(), 0);

    // One barrier per layer: new states go to ws.hnew (one slice per layer) and reach the
    // state during the next layer, when nobody reads the old one any more. A barrier on a
    // loaded machine can cost a scheduler time slice, so fewer is better.
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int ith = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        detail::StreamStep s;
        s.ith = ith;
        s.nt = nt;
        s.token = token;
        s.x = x;
        s.hn = ws.hnew.data();
        s.gx = ws.gx.data();
        s.gh = ws.gh.data();
        s.zlr = ws.zlr.data() + ith * 2 * r_max_;
        s.z = ws.z.data() + ith * h_max_;
        s.units = ws.units.data() + ith * h_max_;
        s.rows = ws.rows.data() + ith * 2 * h_max_;
        s.nz = ws.zlr_nz.data() + ith * r_max_;
        s.iota = iota_.data();
        float* prev_state = nullptr;  // layer l - 1: its new state waits in prev_hn
        const float* prev_hn = nullptr;
        int64_t prev_h = 0;
        for (size_t l = 0; l < nl; ++l) {
            const int64_t h = layers_[l]->h();
            s.h = state.h(l);
            s.cursor = &ws.cursor[l];
            const int64_t na = layers_[l]->step(s);
            if (ith == 0) active[l] = na;
            // The layer below is done with (nobody reads its old state any more).
            if (prev_state) {
                const int64_t p0 = prev_h * ith / nt, p1 = prev_h * (ith + 1) / nt;
                std::memcpy(prev_state + p0, prev_hn + p0, sizeof(float) * (p1 - p0));
            }
#pragma omp barrier
            prev_state = state.h(l);
            prev_hn = s.hn;
            prev_h = h;
            s.x = s.hn;
            s.hn += h;
        }
        const int64_t o0 = v_out_ * ith / nt, o1 = v_out_ * (ith + 1) / nt;
        const int64_t hl = layers_.back()->h();
        kernels::active().gemv_rows(w_out_.data(), hl, hl, s.x, iota_.data() + o0, o1 - o0,
                                    b_out_.data(), logits);
        const int64_t p0 = prev_h * ith / nt, p1 = prev_h * (ith + 1) / nt;
        std::memcpy(prev_state + p0, prev_hn + p0, sizeof(float) * (p1 - p0));
    }
    for (size_t l = 0; l < nl; ++l) layers_[l]->count(ws.stats[l], 1, active[l]);
    state.steps_[0] += 1;
}

}  // namespace ccinfer
