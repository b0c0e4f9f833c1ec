// The block layer: one z per block of B = h / g units, z_block = cliptanh(z_scale z^lr +
// z_shift) (gru.h).
//  - one stream: CondLayer's step, the active units those of the open blocks;
//  - batch: the z path on the panel kernel (each thread a range of samples and all g gates),
//    then per block of B units (2 B adjacent unit-interleaved rows, their own panels) the
//    panel GEMM over the samples whose gate is on, in one parallel region with the gate
//    maths; gated-off (sample, block) pairs are never computed and keep their state.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "ccinfer/check.h"
#include "ccinfer/threads.h"
#include "gru_layer_cond.h"

namespace ccinfer::detail {
namespace {

// The samples whose gate of block j is on (gate_of: (n, g)), into samples; their number.
int64_t open_samples(const float* gate_of, int64_t n, int64_t g, int64_t j, int32_t* samples) {
    int64_t count = 0;
    for (int64_t s = 0; s < n; ++s)
        if (gate_of[s * g + j] > 0.0f) samples[count++] = static_cast<int32_t>(s);
    return count;
}

class BlockLayer final : public CondLayer {
  public:
    static void check(const GruLayerInit& in, const std::string& where) {
        CCINFER_CHECK(in.z_scale && in.z_shift && in.h % in.rank == 0, where,
                      "block layers need z_scale, z_shift and a gating g dividing h = ", in.h,
                      ", got g = ", in.rank);
    }

    BlockLayer(const GruLayerInit& in, bool lookup, const std::string& where)
        : CondLayer(in, lookup, where), z_scale_(in.z_scale, rank_), z_shift_(in.z_shift, rank_) {}

    int64_t step_batch(const BatchStep& b) const override;

    LayerPanels pack(int threads) const override {
        LayerPanels p;
        const int64_t m = 2 * h_, run = m / rank_;  // a block's 2 B rows run together
        // The z path: g rows, the last panel padded.
        if (!lookup_) p.zl_x = pack_weights(w_zl_.data(), nullptr, rank_, d_, rank_, threads);
        p.zl_h = pack_weights(u_zl_.data(), nullptr, rank_, h_, rank_, threads);
        // Blocks that are not whole panels would compute their padding (up to 4x the work at
        // B = 4), so they keep the row-major dot-product kernel.
        if (run % kPanelRows != 0) return p;
        if (!lookup_) p.ih = pack_weights(w_ih_.data(), w_ih16_.data(), m, d_, run, threads);
        p.hh = pack_weights(w_hh_.data(), w_hh16_.data(), m, h_, run, threads);
        return p;
    }

  private:
    int64_t z_of(float* zlr, float* scratch, float* z, int32_t* units, int32_t*) const override {
        const int64_t r = rank_, B = h_ / r;
        float* zb = scratch;  // the gate of each block
        for (int64_t j = 0; j < r; ++j) zb[j] = z_scale_[j] * zlr[j] + z_shift_[j];
        kernels::active().clip_tanh(zb, r, nullptr);
        int64_t na = 0;
        for (int64_t j = 0; j < r; ++j) {
            std::fill_n(z + j * B, B, zb[j]);
            if (zb[j] > 0.0f) {
                if (units)
                    for (int64_t i = 0; i < B; ++i) units[na + i] = static_cast<int32_t>(j * B + i);
                na += B;
            }
        }
        return na;
    }

    int64_t z_tail_macs() const override { return 0; }

    int64_t z_batch(const BatchStep& b) const;

    AlignedBuffer<float> z_scale_, z_shift_;  ///< (g)
};

// The z path of n streams: z into ws.z (n, h); returns the active (stream, unit) pairs. Each
// thread takes a contiguous range of samples and all g gates (W_zl and U_zl are small: 256
// KiB each at g = 64, h = 1024), on the panel kernel; every output is the same sum whatever
// the range.
int64_t BlockLayer::z_batch(const BatchStep& b) const {
    const auto clip_tanh = kernels::active().clip_tanh;
    GruWorkspace& ws = b.ws;
    const LayerPanels& P = b.panels;
    const int64_t n = b.n, r = rank_, h = h_, d = d_, B = h / r;
    float* UX = ws.zlr.data();  // (n, r): W_zl x + b_zl, then z^lr
    float* UH = UX + n * r;     // (n, r): U_zl h
    float* Z = ws.z.data();     // (n, h)
    const int64_t work = n * r * (in_width() + h);
    const int nth = std::min<int64_t>(std::min(threads_for_work(work), ws.threads), n);
    int64_t active = 0;
#pragma omp parallel num_threads(nth) if (nth > 1) reduction(+ : active)
    {
        const int ith = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        const int64_t s0 = n * ith / nt, s1 = n * (ith + 1) / nt, ns = s1 - s0;
        if (ns > 0) {
            if (lookup_) {
                for (int64_t s = s0; s < s1; ++s)
                    std::memcpy(UX + s * r, w_zl_.data() + int64_t{b.tokens[s]} * r,
                                sizeof(float) * r);
            } else {
                P.zl_x.gemm(0, r, b.x + s0 * d, d, nullptr, ns, UX + s0 * r, r, {});
                add_bias(UX + s0 * r, ns, r, b_zl_.data());
            }
            P.zl_h.gemm(0, r, b.H + s0 * h, h, nullptr, ns, UH + s0 * r, r, {});
            for (int64_t s = s0; s < s1; ++s) {
                float* zb = UH + s * r;  // U_zl h, then the gate of each block
                for (int64_t j = 0; j < r; ++j) {
                    const float u = std::max(UX[s * r + j] + zb[j], 0.0f);
                    zb[j] = z_scale_[j] * u + z_shift_[j];
                }
                active += B * clip_tanh(zb, r, nullptr);
                for (int64_t j = 0; j < r; ++j) std::fill_n(Z + s * h + j * B, B, zb[j]);
            }
        }
    }
    return active;
}

int64_t BlockLayer::step_batch(const BatchStep& b) const {
    const kernels::KernelTable& kernel = kernels::active();
    GruWorkspace& ws = b.ws;
    const int64_t n = b.n, h = h_, m = 2 * h, in = in_width(), g = rank_, B = h / g, blk = 2 * B;
    const PanelReads reads = panel_reads(b);
    const int64_t active = z_batch(b);
    const float* Z = ws.z.data();
    float* GX = ws.gx.data();
    float* GH = ws.gh.data();
    float* H = b.H;
    int64_t* cursor = b.cursor;
    float* gate_of = ws.gates.data();  // (n, g): each block's z
    for (int64_t s = 0; s < n; ++s)
        for (int64_t j = 0; j < g; ++j) gate_of[s * g + j] = Z[s * h + j * B];
    // Contiguous block ranges of about equal work (gate scans plus on-pairs) for the gate
    // maths; the products claim blocks one at a time, busiest first. (Scratch kept in the
    // workspace: assign() reuses its storage step after step.)
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
                     [&](int32_t a, int32_t c) { return on[a] > on[c]; });
    const int nth =
        std::min<int64_t>(std::min(threads_for_work(active * 2 * (in + h)), ws.threads), g);
    std::vector<int64_t>& split = ws.block_split;
    split.assign(static_cast<size_t>(nth) + 1, g);
    split[0] = 0;
    for (int t = 1; t < nth; ++t) {
        const int64_t target = cost[g] * t / nth;
        split[t] = std::lower_bound(cost.begin(), cost.end(), target) - cost.begin();
        split[t] = std::max(split[t - 1], std::min(split[t], g));
    }
    int32_t* samples = ws.samples.data();
    const bool packed = !reads.hh.empty();
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int ith = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        // A team smaller than asked for takes every range itself.
        const int64_t b0 = split[ith * nth / nt], b1 = split[(ith + 1) * nth / nt];
        int32_t* mine = samples + ith * n;
        for (int64_t c = claim(cursor, 1), cn; c < g; c = cn) {
            cn = claim(cursor, 1);
            const int64_t j = busiest[c];
            if (!packed) {  // blocks that are not whole panels: row-major kernel
                if (!lookup_)
                    w_ih().gated_blocks(d_, b.x, n, gate_of, g, blk, j, j + 1, GX, m,
                                        GatedOff::kUntouched, mine);
                w_hh().gated_blocks(h, H, n, gate_of, g, blk, j, j + 1, GH, m, GatedOff::kUntouched,
                                    mine);
                continue;
            }
            const int64_t count = open_samples(gate_of, n, g, j, mine);
            if (count == 0) continue;
            // Next: this block's W_hh, then this thread's next block.
            if (!lookup_)
                reads.ih.gemm(j * blk, blk, b.x, d_, mine, count, GX + j * blk, m,
                              reads.hh_rows(j * blk, blk));
            reads.hh.gemm(
                j * blk, blk, H, h, mine, count, GH + j * blk, m,
                cn < g ? reads.first_rows(busiest[cn] * blk, blk) : WeightStream{reads.streamed});
        }
#pragma omp barrier
        // Every thread has read the old state: update this thread's blocks, each run of
        // consecutive open blocks in one call.
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
                const float* bx = lookup_ ? nullptr : b_ih_.data() + o;
                float* hs = H + s * h + u;
                kernel.gru_cond_units(batch_gx(b, s) + o, bx, GH + s * m + o, b_hh_.data() + o,
                                      Z + s * h + u, hs, nullptr, (end - j) * B, hs);
                j = end;
            }
        }
    }
    return active;
}

}  // namespace

std::vector<GruTensorSpec> block_tensors(int64_t d, int64_t h, int64_t r) {
    std::vector<GruTensorSpec> t = cond_tensors(d, h, r);
    t.push_back({"z_scale", {r}, &GruLayerInit::z_scale});
    t.push_back({"z_shift", {r}, &GruLayerInit::z_shift});
    return t;
}

std::shared_ptr<const GruLayer> make_block_layer(const GruLayerInit& in, bool lookup,
                                                 const std::string& where) {
    GruLayer::check_common(in, where);
    CondLayer::check_cond(in, where);
    BlockLayer::check(in, where);
    return std::make_shared<BlockLayer>(in, lookup, where);
}

}  // namespace ccinfer::detail
