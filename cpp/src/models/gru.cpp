// GRUStack: construction, weight layout and the single-stream step. The batch step is in
// gru_batch.cpp.
//
// Layout (chosen for the access pattern of a step):
//  - The gate rows of one unit are adjacent: row G i + g of w_ih / w_hh is gate g of unit i
//    (G = 3, gates r, z, n for a dense layer; G = 2, gates r, n for a conditional one). A
//    unit's rows are then one contiguous stretch of memory, a conditional step reads whole
//    stretches (the active units), a thread's share of units is a contiguous range of rows,
//    and a block of B units is the contiguous row block [G B j, G B (j + 1)) for the batch
//    kernels.
//  - Token input: layer 0's w_ih is stored transposed, (V, G h), with b_ih added, so W x + b
//    for token t is row t, read as is (the same value PyTorch computes: W[:, t] * 1 + 0 * ...
//    is exact, then + b rounds once). The z path's W_zl likewise, (V, r) with b_zl added.
#include "ccinfer/gru.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "../kernels/table.h"
#include "ccinfer/finite.h"
#include "ccinfer/half.h"
#include "ccinfer/sizes.h"
#include "ccinfer/threads.h"
#include "gru_internal.h"
#include "gru_panels.h"

namespace ccinfer {
namespace {

std::atomic<uint64_t> g_next_model_id{1};

// Active units per claim of the one-stream step's shared cursor (16 units: 32 rows of a
// conditional layer, 64-128 KiB of weights): small enough that the threads finish within a
// few microseconds of each other, large enough that the claims cost nothing.
constexpr int64_t kUnitsPerChunk = 16;

void require(bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("GRUStack: " + what);
}

// Unit-interleaved copy of a (G h, k) matrix given gate-major: stored row G i + g = given
// row g h + i.
template <typename W>
AlignedBuffer<W> interleave_rows(const W* src, int64_t G, int64_t h, int64_t k) {
    AlignedBuffer<W> out(checked_mul(G * h, k, "GRUStack: a layer matrix"));
    for (int64_t i = 0; i < h; ++i)
        for (int64_t g = 0; g < G; ++g)
            std::memcpy(out.data() + (G * i + g) * k, src + (g * h + i) * k, sizeof(W) * k);
    return out;
}

// Token input: W_ih (G h, V) transposed to (V, G h), unit-interleaved, with b_ih added (the
// row of token t is then W_ih[:, t] + b_ih, rounded once). Always float32 (it is small).
template <typename W>
AlignedBuffer<float> lookup_table(const W* w_ih, const float* b_ih, int64_t G, int64_t h,
                                  int64_t V) {
    AlignedBuffer<float> out(checked_mul(V, G * h, "GRUStack: the token lookup table"));
    for (int64_t t = 0; t < V; ++t)
        for (int64_t i = 0; i < h; ++i)
            for (int64_t g = 0; g < G; ++g)
                out[t * G * h + G * i + g] = widen(w_ih[(g * h + i) * V + t]) + b_ih[g * h + i];
    return out;
}

}  // namespace

const char* gru_kind_name(GruKind kind) {
    switch (kind) {
        case GruKind::kDense:
            return "dense";
        case GruKind::kLowRank:
            return "lowrank";
        case GruKind::kBlock:
            return "block";
    }
    return "unknown";
}

GruKind parse_gru_kind(const std::string& name) {
    for (GruKind kind : {GruKind::kDense, GruKind::kLowRank, GruKind::kBlock})
        if (name == gru_kind_name(kind)) return kind;
    throw std::invalid_argument("GRUStack: unknown layer kind '" + name +
                                "', expected dense, lowrank or block");
}

GRUState::Lock::Lock(const char* fn, const GRUState& state, bool exclusive)
    : state_(state), exclusive_(exclusive) {
    if (exclusive) {
        int idle = 0;  // only a state nobody holds can be taken exclusively
        if (state_.users_.compare_exchange_strong(idle, -1, std::memory_order_acquire)) return;
        throw std::invalid_argument(std::string(fn) +
                                    ": state is in use by another call (a step, run, or a read "
                                    "of it; one state per stream: make one per thread with "
                                    "new_state())");
    }
    int users = state_.users_.load(std::memory_order_relaxed);
    while (users >= 0)
        if (state_.users_.compare_exchange_weak(users, users + 1, std::memory_order_acquire))
            return;
    throw std::invalid_argument(std::string(fn) + ": state is in use by a step");
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
    if (n < 1 || widths.empty())
        throw std::invalid_argument("GRUState: a state needs at least one stream and one layer");
    if (!steps.empty() && static_cast<int64_t>(steps.size()) != n)
        throw std::invalid_argument("GRUState: one step count per stream");
    auto s = std::make_unique<GRUState>();
    s->n_ = n;
    for (int64_t w : widths) {
        if (w < 1) throw std::invalid_argument("GRUState: layer widths must be >= 1");
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
    if (detached ? src.widths_ != widths_ : src.model_id_ != model_id_)
        throw std::invalid_argument(std::string(fn) +
                                    ": the source state belongs to another model");
    if (from < 0 || from >= src.n_ || to < 0 || to >= n_)
        throw std::invalid_argument(std::string(fn) + ": stream index out of range (source " +
                                    std::to_string(from) + " of " + std::to_string(src.n_) +
                                    ", destination " + std::to_string(to) + " of " +
                                    std::to_string(n_) + ")");
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
    require(!layers.empty(), "needs at least one layer");
    require(v_out >= 1 && w_out && b_out, "needs an output layer with at least one output");
    int64_t iota = v_out;
    for (size_t l = 0; l < layers.size(); ++l) {
        const GruLayerInit& in = layers[l];
        const std::string where = "layer " + std::to_string(l) + ": ";
        require(in.d >= 1 && in.h >= 1, where + "input and hidden widths must be >= 1");
        if (l > 0)
            require(in.d == layers[l - 1].h,
                    where + "input width " + std::to_string(in.d) +
                        " does not match the previous layer's hidden width " +
                        std::to_string(layers[l - 1].h));
        const bool half = in.w_ih_f16 || in.w_hh_f16;
        require(half ? in.w_ih_f16 && in.w_hh_f16 : in.w_ih && in.w_hh,
                where + "missing W_ih/W_hh (half precision needs both)");
        require(in.b_ih && in.b_hh, where + "missing b_ih/b_hh");
        Layer L;
        L.kind = in.kind;
        L.d = in.d;
        L.h = in.h;
        L.rank = in.kind == GruKind::kDense ? 0 : in.rank;
        L.gates = in.kind == GruKind::kDense ? 3 : 2;
        L.lookup = token_input && l == 0;
        const int64_t d = in.d, h = in.h, G = L.gates, r = L.rank;
        if (in.kind != GruKind::kDense) {
            require(r >= 1, where + "rank/gating must be >= 1");
            require(in.w_zl && in.u_zl && in.b_zl, where + "missing the z path W_zl/U_zl/b_zl");
            if (in.kind == GruKind::kLowRank)
                require(in.w_z && in.b_z, where + "missing W_z/b_z");
            else
                require(in.z_scale && in.z_shift && h % r == 0,
                        where + "block layers need z_scale, z_shift and a gating g dividing h = " +
                            std::to_string(h) + ", got g = " + std::to_string(r));
        }
        // Unit-interleaved rows: stored row G i + g = given row g h + i.
        L.b_ih = AlignedBuffer<float>(G * h);
        L.b_hh = AlignedBuffer<float>(G * h);
        for (int64_t i = 0; i < h; ++i)
            for (int64_t g = 0; g < G; ++g) {
                L.b_ih[G * i + g] = in.b_ih[g * h + i];
                L.b_hh[G * i + g] = in.b_hh[g * h + i];
            }
        if (half) {
            L.w_hh16 = interleave_rows(in.w_hh_f16, G, h, h);
            if (L.lookup)
                L.w_ih = lookup_table(in.w_ih_f16, in.b_ih, G, h, d);
            else
                L.w_ih16 = interleave_rows(in.w_ih_f16, G, h, d);
        } else {
            L.w_hh = interleave_rows(in.w_hh, G, h, h);
            L.w_ih = L.lookup ? lookup_table(in.w_ih, in.b_ih, G, h, d)
                              : interleave_rows(in.w_ih, G, h, d);
        }
        if (in.kind != GruKind::kDense) {
            L.b_zl = AlignedBuffer<float>(in.b_zl, r);
            L.u_zl = AlignedBuffer<float>(in.u_zl, r * h);
            if (L.lookup) {
                L.w_zl = AlignedBuffer<float>(d * r);
                for (int64_t t = 0; t < d; ++t)
                    for (int64_t j = 0; j < r; ++j)
                        L.w_zl[t * r + j] = in.w_zl[j * d + t] + in.b_zl[j];
            } else {
                L.w_zl = AlignedBuffer<float>(in.w_zl, r * d);
            }
            if (in.kind == GruKind::kLowRank) {
                L.w_zt = AlignedBuffer<float>(r * h);  // transposed: see lowrank_preactivation
                for (int64_t i = 0; i < h; ++i)
                    for (int64_t j = 0; j < r; ++j) L.w_zt[j * h + i] = in.w_z[i * r + j];
                L.b_z = AlignedBuffer<float>(in.b_z, h);
            } else {
                L.z_scale = AlignedBuffer<float>(in.z_scale, r);
                L.z_shift = AlignedBuffer<float>(in.z_shift, r);
            }
            r_max_ = std::max(r_max_, r);
        }
        h_max_ = std::max(h_max_, h);
        iota = std::max({iota, G * h, r});
        layers_.push_back(std::move(L));
    }
    w_out_ = AlignedBuffer<float>(w_out, v_out * layers_.back().h);
    b_out_ = AlignedBuffer<float>(b_out, v_out);
    iota_ = AlignedBuffer<int32_t>(iota);
    std::iota(iota_.data(), iota_.data() + iota, 0);
    panels_ = std::make_shared<detail::BatchPanels>();
}

const detail::BatchPanels& GRUStack::batch_panels() const {
    std::call_once(panels_->once, [this] {
        const int threads = get_num_threads();
        std::vector<detail::LayerPanels> packed(layers_.size());
        for (size_t l = 0; l < layers_.size(); ++l) {
            const Layer& L = layers_[l];
            // A block's 2 B rows run together; a dense layer's matrix is one run.
            const int64_t m = L.gates * L.h;
            const int64_t run = L.kind == GruKind::kBlock ? m / L.rank : m;
            // Low-rank layers use per-sample row masks; blocks that are not whole panels would
            // compute their padding (up to 4x the work at B = 4), so they keep the row-major
            // dot-product kernel.
            if (L.kind == GruKind::kLowRank) continue;
            if (L.kind == GruKind::kBlock) {  // the z path: g rows, the last panel padded
                if (!L.lookup)
                    packed[l].zl_x =
                        detail::pack_weights(L.w_zl.data(), nullptr, L.rank, L.d, L.rank, threads);
                packed[l].zl_h =
                    detail::pack_weights(L.u_zl.data(), nullptr, L.rank, L.h, L.rank, threads);
                if (run % kPanelRows != 0) continue;
            }
            if (!L.lookup)
                packed[l].ih =
                    detail::pack_weights(L.w_ih.data(), L.w_ih16.data(), m, L.d, run, threads);
            packed[l].hh =
                detail::pack_weights(L.w_hh.data(), L.w_hh16.data(), m, L.h, run, threads);
        }
        panels_->layers = std::move(packed);
    });
    return *panels_;
}

std::unique_ptr<GRUState> GRUStack::new_state(int64_t n) const {
    const char* fn = "GRUStack.new_state";
    if (n < 1)
        throw std::invalid_argument(std::string(fn) + ": a state needs at least one stream, got " +
                                    std::to_string(n));
    int64_t hsum = 0;
    for (const Layer& L : layers_) hsum += L.h;  // widths are bounded by the weights' sizes
    check_alloc(std::string(fn) + ": a state of " + std::to_string(n) + " streams", n, hsum,
                sizeof(float));
    auto s = std::make_unique<GRUState>();
    s->model_id_ = id_;
    s->n_ = n;
    for (const Layer& L : layers_) {
        s->widths_.push_back(L.h);
        s->h_.emplace_back(n * L.h);
        std::fill_n(s->h_.back().data(), n * L.h, 0.0f);
    }
    s->steps_.assign(n, 0);
    return s;
}

GruWorkspace GRUStack::make_workspace(int64_t batch) const {
    GruWorkspace ws;
    ws.capacity = std::max<int64_t>(batch, 1);
    ws.threads = std::max(get_num_threads(), 1);
    const int64_t n = ws.capacity;
    const int64_t width = std::max(3 * h_max_, v_out_);
    int64_t hsum = 0;
    for (const Layer& L : layers_) hsum += L.h;
    const int64_t per = std::max<int64_t>(n, ws.threads);  // batch rows or per-thread slices
    // Every product below is at most per * (2 width + 3 r_max + 3 h_max) elements of 4 bytes
    // or fewer (and the thread counts are bounded by set_num_threads): one check for all.
    check_alloc("GRUStack: a workspace for " + std::to_string(n) + " streams", per,
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
    int64_t macs = v_out_ * layers_.back().h;
    for (const Layer& L : layers_) macs += 3 * L.h * ((L.lookup ? 0 : L.d) + L.h);
    return macs;
}

void GRUStack::check_step(const char* fn, GRUState& state, int64_t n,
                          const GruWorkspace& ws) const {
    const std::string f(fn);
    const uint64_t owner = state.model_id_.load();
    if (owner == 0) {
        bool fits = state.widths_.size() == layers_.size();
        for (size_t l = 0; fits && l < layers_.size(); ++l) fits = state.widths_[l] == layers_[l].h;
        if (!fits)
            throw std::invalid_argument(f +
                                        ": the restored state's layer widths do not match "
                                        "this model's");
    } else if (owner != id_) {
        throw std::invalid_argument(f + ": state belongs to another model (made by model #" +
                                    std::to_string(owner) + ", this is model #" +
                                    std::to_string(id_) + ")");
    }
    if (state.n_ != n)
        throw std::invalid_argument(f + ": state holds " + std::to_string(state.n_) +
                                    " stream(s), the input has " + std::to_string(n));
    if (ws.capacity < n || ws.stats.size() != layers_.size())
        throw std::invalid_argument(f + ": workspace holds " + std::to_string(ws.capacity) +
                                    " stream(s), needs " + std::to_string(n));
    // A detached state (restored from its arrays) joins the first model it fits; atomically,
    // so two models stepping it at once cannot both claim it.
    uint64_t expected = 0;
    if (owner == 0 && !state.model_id_.compare_exchange_strong(expected, id_) && expected != id_)
        throw std::invalid_argument(f + ": the restored state was just bound to model #" +
                                    std::to_string(expected));
}

int64_t GRUStack::z_path(const Layer& L, int32_t token, const float* x, const float* h, float* zlr,
                         float* z, int32_t* units, int32_t* nz) const {
    const auto gemv_rows = kernels::active().gemv_rows;
    const int64_t r = L.rank, hh = L.h;
    const int32_t* iota = iota_.data();
    // u = (W_zl x + b_zl) + U_zl h, the first term a lookup for token input.
    float* ux = zlr;
    float* uh = zlr + r;
    if (L.lookup)
        std::memcpy(ux, L.w_zl.data() + int64_t{token} * r, sizeof(float) * r);
    else
        gemv_rows(L.w_zl.data(), L.d, L.d, x, iota, r, L.b_zl.data(), ux);
    gemv_rows(L.u_zl.data(), hh, hh, h, iota, r, nullptr, uh);
    for (int64_t j = 0; j < r; ++j) ux[j] = std::max(ux[j] + uh[j], 0.0f);
    int64_t na = 0;
    if (L.kind == GruKind::kLowRank) {
        detail::lowrank_preactivation(L.w_zt.data(), L.b_z.data(), r, hh, ux, nz, uh, z);
        na = kernels::active().clip_tanh(z, hh, units);
    } else {
        const int64_t B = hh / r;
        float* zb = uh;  // the gate of each block (U_zl h is summed into ux by now)
        for (int64_t j = 0; j < r; ++j) zb[j] = L.z_scale[j] * ux[j] + L.z_shift[j];
        kernels::active().clip_tanh(zb, r, nullptr);
        for (int64_t j = 0; j < r; ++j) {
            std::fill_n(z + j * B, B, zb[j]);
            if (zb[j] > 0.0f) {
                if (units)
                    for (int64_t i = 0; i < B; ++i) units[na + i] = static_cast<int32_t>(j * B + i);
                na += B;
            }
        }
    }
    return na;
}

void GRUStack::check_tokens(const char* fn, const int32_t* tokens, int64_t n,
                            const char* what) const {
    if (!token_input_)
        throw std::invalid_argument(std::string(fn) + ": this model takes vectors of " +
                                    std::to_string(input_size()) + " floats, not token ids");
    for (int64_t t = 0; t < n; ++t)
        if (tokens[t] < 0 || tokens[t] >= input_size())
            throw std::invalid_argument(
                std::string(fn) + ": token id " + std::to_string(tokens[t]) +
                (n > 1 || what[0] != '\0' ? " (" + std::string(what) + " " + std::to_string(t) + ")"
                                          : std::string()) +
                " is out of range [0, " + std::to_string(input_size()) + ")");
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
    if (token_input_)
        throw std::invalid_argument(std::string(fn) + ": this model takes token ids, not vectors");
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
    if (token_input_)
        throw std::invalid_argument(std::string(fn) + ": this model takes token ids, not vectors");
    const int64_t d = input_size();
    check_finite(fn, "sequence", x, checked_mul(T, d, fn), d);
    check_step(fn, state, 1, ws);
    GRUState::Lock lock(fn, state, true);
    for (int64_t t = 0; t < T; ++t) step_impl(0, x + t * d, state, logits + t * v_out_, ws);
}

void GRUStack::step_impl(int32_t token, const float* x, GRUState& state, float* logits,
                         GruWorkspace& ws) const {
    const kernels::KernelTable& kernel = kernels::active();
    const auto gemv_rows = kernel.gemv_rows;
    const size_t nl = layers_.size();
    int64_t work = v_out_ * layers_.back().h;
    for (const Layer& L : layers_) work += 2 * L.h * ((L.lookup ? 0 : L.d) + L.h);
    const int nth = std::min(threads_for_work(work / kGruStepWorkPerThreadScale), ws.threads);
    int64_t* active = ws.active.data();  // active units per layer, for the stats
    int64_t* cursor = ws.cursor.data();
    std::fill(ws.cursor.begin(), ws.cursor.end(), 0);

    // One barrier per layer: every thread computes the (small) z path itself, identically,
    // instead of waiting for one thread to do it; new states go to ws.hnew (one slice per
    // layer) and reach the state during the next layer, when nobody reads the old one any
    // more. A barrier on a loaded machine can cost a scheduler time slice, so fewer is better.
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int ith = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        float* zlr = ws.zlr.data() + ith * 2 * r_max_;
        float* z = ws.z.data() + ith * h_max_;
        int32_t* units = ws.units.data() + ith * h_max_;
        int32_t* rows = ws.rows.data() + ith * 2 * h_max_;
        float* gx_buf = ws.gx.data();
        float* gh = ws.gh.data();
        const float* xin = x;
        float* hn = ws.hnew.data();
        float* prev_state = nullptr;  // layer l - 1: its new state waits in prev_hn
        const float* prev_hn = nullptr;
        int64_t prev_h = 0;
        for (size_t l = 0; l < nl; ++l) {
            const Layer& L = layers_[l];
            const int64_t h = L.h, G = L.gates;
            const float* hs = state.h(l);
            const bool dense = L.kind == GruKind::kDense;
            int64_t na = h;
            if (!dense)
                na = z_path(L, token, xin, hs, zlr, z, units, ws.zlr_nz.data() + ith * r_max_);
            if (ith == 0) active[l] = na;
            // The active units in chunks claimed from a shared cursor (detail::claim).
            const int64_t chunk = nt == 1 ? std::max<int64_t>(na, 1) : kUnitsPerChunk;
            for (int64_t a0; (a0 = detail::claim(cursor + l, chunk)) < na;) {
                const int64_t a1 = std::min(na, a0 + chunk);
                const int32_t* my_rows = iota_.data() + G * a0;
                if (!dense) {
                    for (int64_t a = a0; a < a1; ++a) {
                        rows[2 * (a - a0)] = 2 * units[a];
                        rows[2 * (a - a0) + 1] = 2 * units[a] + 1;
                    }
                    my_rows = rows;
                }
                const int64_t nrows = G * (a1 - a0);
                if (!L.lookup)
                    detail::Weights::ih(L).gemv_rows(L.d, L.d, xin, my_rows, nrows, L.b_ih.data(),
                                                     gx_buf);
                detail::Weights::hh(L).gemv_rows(h, h, hs, my_rows, nrows, L.b_hh.data(), gh);
                const float* gx = L.lookup ? L.w_ih.data() + int64_t{token} * G * h : gx_buf;
                if (dense)
                    kernel.gru_dense_units(gx + 3 * a0, nullptr, gh + 3 * a0, nullptr, hs + a0,
                                           a1 - a0, hn + a0);
                else
                    kernel.gru_cond_units(gx, nullptr, gh, nullptr, z, hs, units + a0, a1 - a0, hn);
            }
            const int64_t u0 = h * ith / nt, u1 = h * (ith + 1) / nt;
            if (!dense) {
                for (int64_t i = u0; i < u1; ++i)  // units with z = 0 keep their state
                    if (!(z[i] > 0.0f)) hn[i] = hs[i];
            }
            // The layer below is done with (nobody reads its old state any more).
            if (prev_state) {
                const int64_t p0 = prev_h * ith / nt, p1 = prev_h * (ith + 1) / nt;
                std::memcpy(prev_state + p0, prev_hn + p0, sizeof(float) * (p1 - p0));
            }
#pragma omp barrier
            prev_state = state.h(l);
            prev_hn = hn;
            prev_h = h;
            xin = hn;
            hn += h;
        }
        const int64_t o0 = v_out_ * ith / nt, o1 = v_out_ * (ith + 1) / nt;
        const int64_t hl = layers_.back().h;
        gemv_rows(w_out_.data(), hl, hl, xin, iota_.data() + o0, o1 - o0, b_out_.data(), logits);
        const int64_t p0 = prev_h * ith / nt, p1 = prev_h * (ith + 1) / nt;
        std::memcpy(prev_state + p0, prev_hn + p0, sizeof(float) * (p1 - p0));
    }
    for (size_t l = 0; l < nl; ++l)
        detail::count(ws.stats[l], layers_[l].kind, layers_[l].d, layers_[l].h, layers_[l].rank,
                      layers_[l].lookup, 1, active[l]);
    state.steps_[0] += 1;
}

}  // namespace ccinfer
