// GRUStack::step_batch: one time step of n independent streams (the server path).
//  - dense layers: the outer-product panel GEMM (kernels/panel_gemm, over the packed copy of
//    gru_panels.h) on chunks of units claimed by the threads, then the gate maths, in one
//    parallel region (no BLAS call anywhere in the step);
//  - block layers: per block of B units (2 B adjacent unit-interleaved rows, their own
//    panels), the panel GEMM over the samples whose gate is on, in one parallel region with
//    the gate maths; gated-off (sample, block) pairs are never computed and keep their state;
//  - low-rank layers: per-sample row masks (cond_gemv_batch: each weight row read once for
//    all the samples that need it).
// The z path is a few small GEMMs over the batch (block layers: the panel kernel; low-rank
// layers: the register-tiled block kernel; the samples split among the threads, so the sums
// do not depend on the thread count).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "../kernels/table.h"
#include "ccinfer/block_gated_gemm.h"
#include "ccinfer/cond_gemv_batch.h"
#include "ccinfer/finite.h"
#include "ccinfer/gru.h"
#include "ccinfer/sizes.h"
#include "ccinfer/threads.h"
#include "gru_internal.h"
#include "gru_panels.h"

namespace ccinfer {
namespace {

// Adds bias (m) to every row of Y (n, m).
void add_bias(float* y, int64_t n, int64_t m, const float* bias) {
    for (int64_t s = 0; s < n; ++s) {
        float* row = y + s * m;
        for (int64_t j = 0; j < m; ++j) row[j] += bias[j];
    }
}

// Work (multiply-add equivalents) of the gate maths of one unit: exp, tanh and a few flops.
constexpr int64_t kUnitWork = 64;

// Units per claim of a dense layer's products: 96 rows, three whole panels (a chunk must
// start on a panel: 3 c0 a multiple of 32), about 0.3 ms at batch 64 and hidden 1024.
constexpr int64_t kDenseUnitsPerClaim = 32;
static_assert(3 * kDenseUnitsPerClaim % kPanelRows == 0, "chunks start on a panel");

// The samples whose gate of block j is on (gate_of: (n, g)), into samples; their number.
int64_t open_samples(const float* gate_of, int64_t n, int64_t g, int64_t j, int32_t* samples) {
    int64_t count = 0;
    for (int64_t s = 0; s < n; ++s)
        if (gate_of[s * g + j] > 0.0f) samples[count++] = static_cast<int32_t>(s);
    return count;
}

}  // namespace

int64_t GRUStack::z_path_batch(const Layer& L, const detail::LayerPanels& P, const int32_t* tokens,
                               const float* x, const float* H, int64_t n, GruWorkspace& ws) const {
    const auto block_gemm = kernels::active().block_gemm;
    const auto clip_tanh = kernels::active().clip_tanh;
    const int64_t r = L.rank, h = L.h, d = L.d;
    float* UX = ws.zlr.data();  // (n, r): W_zl x + b_zl, then z^lr
    float* UH = UX + n * r;     // (n, r): U_zl h
    float* Z = ws.z.data();     // (n, h)
    const int64_t work = n * r * ((L.lookup ? 0 : d) + h + (L.kind == GruKind::kLowRank ? h : 0));
    const int nth = std::min<int64_t>(std::min(threads_for_work(work), ws.threads), n);
    int64_t active = 0;
    if (L.kind == GruKind::kBlock) {
        // Each thread takes a contiguous range of samples and all g gates (W_zl and U_zl are
        // small: 256 KiB each at g = 64, h = 1024), on the panel kernel; every output is the
        // same sum whatever the range.
        const int64_t B = h / r;
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(+ : active)
        {
            const int ith = omp_get_thread_num();
            const int nt = omp_get_num_threads();
            const int64_t s0 = n * ith / nt, s1 = n * (ith + 1) / nt, ns = s1 - s0;
            if (ns > 0) {
                if (L.lookup) {
                    for (int64_t s = s0; s < s1; ++s)
                        std::memcpy(UX + s * r, L.w_zl.data() + int64_t{tokens[s]} * r,
                                    sizeof(float) * r);
                } else {
                    P.zl_x.gemm(0, r, x + s0 * d, d, nullptr, ns, UX + s0 * r, r, {});
                    add_bias(UX + s0 * r, ns, r, L.b_zl.data());
                }
                P.zl_h.gemm(0, r, H + s0 * h, h, nullptr, ns, UH + s0 * r, r, {});
                for (int64_t s = s0; s < s1; ++s) {
                    float* zb = UH + s * r;  // U_zl h, then the gate of each block
                    for (int64_t j = 0; j < r; ++j) {
                        const float u = std::max(UX[s * r + j] + zb[j], 0.0f);
                        zb[j] = L.z_scale[j] * u + L.z_shift[j];
                    }
                    active += B * clip_tanh(zb, r, nullptr);
                    for (int64_t j = 0; j < r; ++j) std::fill_n(Z + s * h + j * B, B, zb[j]);
                }
            }
        }
        return active;
    }
    // Low rank: each thread takes a contiguous range of samples (a sample's pre-activation
    // needs all of its z^lr); every output is the same dot product whatever the range, so the
    // result does not depend on the thread count.
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(+ : active)
    {
        const int ith = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        const int64_t s0 = n * ith / nt, s1 = n * (ith + 1) / nt, ns = s1 - s0;
        float* ux = UX + s0 * r;
        float* uh = UH + s0 * r;
        if (ns > 0) {
            if (L.lookup) {
                for (int64_t s = s0; s < s1; ++s)
                    std::memcpy(UX + s * r, L.w_zl.data() + int64_t{tokens[s]} * r,
                                sizeof(float) * r);
            } else {
                block_gemm(L.w_zl.data(), d, r, d, x + s0 * d, d, nullptr, ns, ux, r);
                add_bias(ux, ns, r, L.b_zl.data());
            }
            block_gemm(L.u_zl.data(), h, r, h, H + s0 * h, h, nullptr, ns, uh, r);
            for (int64_t e = 0; e < ns * r; ++e) ux[e] = std::max(ux[e] + uh[e], 0.0f);
        }
        // UH's row s is free scratch by now.
        int32_t* nz = ws.zlr_nz.data() + ith * r_max_;
        for (int64_t s = s0; s < s1; ++s) {
            float* z = Z + s * h;
            // The same sums as the one-stream step.
            detail::lowrank_preactivation(L.w_zt.data(), L.b_z.data(), r, h, UX + s * r, nz,
                                          UH + s * r, z);
            active += clip_tanh(z, h, nullptr);
        }
    }
    return active;
}

void GRUStack::step_batch(const int32_t* tokens, GRUState& state, float* logits,
                          GruWorkspace& ws) const {
    const char* fn = "GRUStack.step";
    if (!token_input_)
        throw std::invalid_argument(std::string(fn) + ": this model takes vectors of " +
                                    std::to_string(input_size()) + " floats, not token ids");
    const int64_t n = state.batch();
    check_tokens(fn, tokens, n, "sample");
    check_step(fn, state, n, ws);
    GRUState::Lock lock(fn, state, true);
    step_batch_impl(tokens, nullptr, state, logits, ws);
}

void GRUStack::step_batch(const float* x, GRUState& state, float* logits, GruWorkspace& ws) const {
    const char* fn = "GRUStack.step";
    if (token_input_)
        throw std::invalid_argument(std::string(fn) + ": this model takes token ids, not vectors");
    check_finite(fn, "X", x, checked_mul(state.batch(), input_size(), fn), input_size());
    check_step(fn, state, state.batch(), ws);
    GRUState::Lock lock(fn, state, true);
    step_batch_impl(nullptr, x, state, logits, ws);
}

void GRUStack::step_batch_impl(const int32_t* tokens, const float* x, GRUState& state,
                               float* logits, GruWorkspace& ws) const {
    const kernels::KernelTable& kernel = kernels::active();
    const detail::BatchPanels& panels = batch_panels();
    const int64_t n = state.batch();
    const float* xin = x;
    for (size_t l = 0; l < layers_.size(); ++l) {
        const Layer& L = layers_[l];
        const int64_t h = L.h, G = L.gates, m = G * h, r = L.rank;
        const int64_t in = L.lookup ? 0 : L.d;
        const detail::Weights w_ih = detail::Weights::ih(L);  // unused for a lookup
        const detail::Weights w_hh = detail::Weights::hh(L);
        const detail::PanelWeights& p_ih = panels.layers[l].ih;  // dense and block layers
        const detail::PanelWeights& p_hh = panels.layers[l].hh;
        float* H = state.h(l);
        float* GX = ws.gx.data();
        float* GH = ws.gh.data();
        float* Z = ws.z.data();
        // Pre-activations of sample s: the lookup row for token input, else row s of GX.
        const auto gx_row = [&](int64_t s) {
            return L.lookup ? L.w_ih.data() + int64_t{tokens[s]} * m : GX + s * m;
        };
        // Work of the products is claimed from this cursor (detail::claim). Each thread
        // claims its next piece before computing the current one, so the kernel can prefetch
        // the weights it reads next when they are streamed (ccinfer/weight_stream.h).
        int64_t* cursor = &ws.cursor[l];
        *cursor = 0;
        const int64_t k_max = std::max(in, h);
        const bool streamed = worth_streaming(w_hh.bytes_of(m * (in + h)), w_hh.bytes_of(k_max),
                                              n * k_max * int64_t{sizeof(float)});
        // What a thread reads for rows [r0, r0 + rows) of W_hh, and what it reads first for
        // those rows of the layer (W_ih's, or W_hh's for token input).
        const auto hh_rows = [&](int64_t r0, int64_t rows) {
            return p_hh.stream(streamed, r0, rows);
        };
        const auto first_rows = [&](int64_t r0, int64_t rows) {
            return L.lookup ? hh_rows(r0, rows) : p_ih.stream(streamed, r0, rows);
        };

        if (L.kind == GruKind::kDense) {
            // The panel GEMM over each thread's units, inside one parallel region: no
            // OpenBLAS call in the step, so the two thread pools never alternate
            // (docs/performance/threads.md), and at full density the kernel outruns sgemm here.
            const int nth = std::min(threads_for_work(n * m * (in + h)), ws.threads);
#pragma omp parallel num_threads(nth) if (nth > 1)
            {
                const int ith = omp_get_thread_num();
                const int nt = omp_get_num_threads();
                const int64_t chunk = nt == 1 ? h : kDenseUnitsPerClaim;
                const auto rows_of = [&](int64_t c) { return 3 * (std::min(h, c + chunk) - c); };
                for (int64_t c0 = detail::claim(cursor, chunk), c1; c0 < h; c0 = c1) {
                    c1 = detail::claim(cursor, chunk);
                    const int64_t rows = rows_of(c0);
                    // Next: this chunk's W_hh, then this thread's next chunk.
                    if (!L.lookup)
                        p_ih.gemm(3 * c0, rows, xin, L.d, nullptr, n, GX + 3 * c0, m,
                                  hh_rows(3 * c0, rows));
                    p_hh.gemm(3 * c0, rows, H, h, nullptr, n, GH + 3 * c0, m,
                              c1 < h ? first_rows(3 * c1, rows_of(c1)) : WeightStream{streamed});
                }
                const int64_t u0 = aligned_slice_start(h, ith, nt);
                const int64_t u1 = aligned_slice_start(h, ith + 1, nt);
#pragma omp barrier
                // Every thread has read the old state: update this thread's units.
                const float* bx = L.lookup ? nullptr : L.b_ih.data() + 3 * u0;
                for (int64_t s = 0; s < n; ++s) {
                    float* hs = H + s * h + u0;
                    kernel.gru_dense_units(gx_row(s) + 3 * u0, bx, GH + s * m + 3 * u0,
                                           L.b_hh.data() + 3 * u0, hs, u1 - u0, hs);
                }
            }
            detail::count(ws.stats[l], L.kind, L.d, h, r, L.lookup, n, n * h);
            xin = H;
            continue;
        }

        const int64_t active = z_path_batch(L, panels.layers[l], tokens, xin, H, n, ws);

        if (L.kind == GruKind::kBlock) {
            const int64_t g = r, B = h / g, blk = G * B;
            float* gate_of = ws.gates.data();  // (n, g): each block's z
            for (int64_t s = 0; s < n; ++s)
                for (int64_t j = 0; j < g; ++j) gate_of[s * g + j] = Z[s * h + j * B];
            // Contiguous block ranges of about equal work (gate scans plus on-pairs) for the
            // gate maths; the products claim blocks one at a time, busiest first.
            // (Scratch kept in the workspace: assign() reuses its storage step after step.)
            std::vector<int64_t>& cost = ws.block_cost;
            std::vector<int64_t>& on = ws.block_on;
            cost.assign(static_cast<size_t>(g) + 1, 0);
            on.assign(static_cast<size_t>(g), 0);
            for (int64_t j = 0; j < g; ++j) {
                for (int64_t s = 0; s < n; ++s) on[j] += gate_of[s * g + j] > 0.0f;
                cost[j + 1] = cost[j] + on[j] * blk * (in + h) + n;
            }
            std::vector<int32_t>& busiest = ws.block_order;
            busiest.resize(static_cast<size_t>(g));
            std::iota(busiest.begin(), busiest.end(), 0);
            std::stable_sort(busiest.begin(), busiest.end(),
                             [&](int32_t a, int32_t b) { return on[a] > on[b]; });
            const int nth =
                std::min<int64_t>(std::min(threads_for_work(active * G * (in + h)), ws.threads), g);
            std::vector<int64_t>& split = ws.block_split;
            split.assign(static_cast<size_t>(nth) + 1, g);
            split[0] = 0;
            for (int t = 1; t < nth; ++t) {
                const int64_t target = cost[g] * t / nth;
                split[t] = std::lower_bound(cost.begin(), cost.end(), target) - cost.begin();
                split[t] = std::max(split[t - 1], std::min(split[t], g));
            }
            int32_t* samples = ws.samples.data();
            const bool packed = !p_hh.empty();
#pragma omp parallel num_threads(nth) if (nth > 1)
            {
                const int ith = omp_get_thread_num();
                const int nt = omp_get_num_threads();
                // A team smaller than asked for takes every range itself.
                const int64_t b0 = split[ith * nth / nt], b1 = split[(ith + 1) * nth / nt];
                int32_t* mine = samples + ith * n;
                for (int64_t c = detail::claim(cursor, 1), cn; c < g; c = cn) {
                    cn = detail::claim(cursor, 1);
                    const int64_t j = busiest[c];
                    if (!packed) {  // blocks that are not whole panels: row-major kernel
                        if (!L.lookup)
                            w_ih.gated_blocks(L.d, xin, n, gate_of, g, blk, j, j + 1, GX, m,
                                              GatedOff::kUntouched, mine);
                        w_hh.gated_blocks(h, H, n, gate_of, g, blk, j, j + 1, GH, m,
                                          GatedOff::kUntouched, mine);
                        continue;
                    }
                    const int64_t count = open_samples(gate_of, n, g, j, mine);
                    if (count == 0) continue;
                    // Next: this block's W_hh, then this thread's next block.
                    if (!L.lookup)
                        p_ih.gemm(j * blk, blk, xin, L.d, mine, count, GX + j * blk, m,
                                  hh_rows(j * blk, blk));
                    p_hh.gemm(j * blk, blk, H, h, mine, count, GH + j * blk, m,
                              cn < g ? first_rows(busiest[cn] * blk, blk) : WeightStream{streamed});
                }
#pragma omp barrier
                // Every thread has read the old state: update this thread's blocks, each run
                // of consecutive open blocks in one call.
                for (int64_t s = 0; s < n; ++s) {
                    const float* open = gate_of + s * g;
                    for (int64_t j = b0; j < b1;) {
                        if (!(open[j] > 0.0f)) {
                            ++j;
                            continue;
                        }
                        int64_t end = j + 1;
                        while (end < b1 && open[end] > 0.0f) ++end;
                        const int64_t u = j * B, o = 2 * u;
                        const float* bx = L.lookup ? nullptr : L.b_ih.data() + o;
                        float* hs = H + s * h + u;
                        kernel.gru_cond_units(gx_row(s) + o, bx, GH + s * m + o, L.b_hh.data() + o,
                                              Z + s * h + u, hs, nullptr, (end - j) * B, hs);
                        j = end;
                    }
                }
            }
        } else {  // kLowRank
            uint8_t* mask = ws.mask.data();
            for (int64_t s = 0; s < n; ++s)
                for (int64_t i = 0; i < h; ++i) {
                    const uint8_t on = Z[s * h + i] > 0.0f;
                    mask[s * m + 2 * i] = on;
                    mask[s * m + 2 * i + 1] = on;
                }
            if (!L.lookup) w_ih.cond_gemv_batch(m, L.d, xin, n, mask, L.b_ih.data(), GX);
            w_hh.cond_gemv_batch(m, h, H, n, mask, L.b_hh.data(), GH);
            const int nth = std::min(threads_for_work(active * kUnitWork), ws.threads);
#pragma omp parallel num_threads(nth) if (nth > 1)
            {
                int32_t* units = ws.units.data() + omp_get_thread_num() * h_max_;
#pragma omp for schedule(static)
                for (int64_t s = 0; s < n; ++s) {
                    const float* z = Z + s * h;
                    int64_t na = 0;
                    for (int64_t i = 0; i < h; ++i) {
                        units[na] = static_cast<int32_t>(i);
                        na += z[i] > 0.0f;
                    }
                    float* hs = H + s * h;
                    kernel.gru_cond_units(gx_row(s), nullptr, GH + s * m, nullptr, z, hs, units, na,
                                          hs);
                }
            }
        }
        detail::count(ws.stats[l], L.kind, L.d, h, r, L.lookup, n, active);
        xin = H;
    }
    // The output head: the same kernel, the samples split among the threads (as in the z
    // path, no sum depends on the split).
    const int64_t hl = layers_.back().h;
    const int nth = std::min<int64_t>(std::min(threads_for_work(n * v_out_ * hl), ws.threads), n);
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int ith = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        const int64_t s0 = n * ith / nt, s1 = n * (ith + 1) / nt;
        if (s1 > s0) {
            kernel.block_gemm(w_out_.data(), hl, v_out_, hl, xin + s0 * hl, hl, nullptr, s1 - s0,
                              logits + s0 * v_out_, v_out_);
            add_bias(logits + s0 * v_out_, s1 - s0, v_out_, b_out_.data());
        }
    }
    for (int64_t s = 0; s < n; ++s) state.steps_[s] += 1;
}

}  // namespace ccinfer
