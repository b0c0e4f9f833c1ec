#pragma once
// One GRU layer behind the interface the stack composes (GRUStack in gru.cpp / gru_batch.cpp):
// what a layer does in a one-stream step, in a batch step, what it packs for the batch step
// and how it counts its work. One file per kind implements it:
//   gru_layer_dense.cpp    torch.nn.GRU
//   gru_layer_cond.{h,cpp} what the two conditional kinds share (their one-stream step)
//   gru_layer_lowrank.cpp  z through a rank-r bottleneck and W_z
//   gru_layer_block.cpp    one z per block of h / g units
// The kind is looked at only where a layer is made or its arrays listed (make_gru_layer,
// gru_layer_tensors in gru_layer.cpp); nothing else switches on it.
//
// Weight layout (chosen for the access pattern of a step):
//  - The gate rows of one unit are adjacent: row G i + g of w_ih / w_hh is gate g of unit i
//    (G = 3, gates r, z, n for a dense layer; G = 2, gates r, n for a conditional one). A
//    unit's rows are then one contiguous stretch of memory, a conditional step reads whole
//    stretches (the active units), a thread's share of units is a contiguous range of rows,
//    and a block of B units is the contiguous row block [G B j, G B (j + 1)) for the batch
//    kernels.
//  - Token input: layer 0's w_ih is stored transposed, (V, G h), with b_ih added, so W x + b
//    for token t is row t, read as is (the same value PyTorch computes: W[:, t] * 1 + 0 * ...
//    is exact, then + b rounds once). The z path's W_zl likewise, (V, r) with b_zl added.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/table.h"
#include "ccinfer/aligned.h"
#include "ccinfer/block_gated_gemm.h"
#include "ccinfer/cond_gemv_batch.h"
#include "ccinfer/gru.h"
#include "gru_panels.h"

namespace ccinfer::detail {

/// A layer matrix as stored: float32 or binary16 (exactly one pointer is non-null). Each
/// product passes the stored pointer to the routine for its type (the kernels::*_for
/// overloads, the ops' float / uint16_t overloads), so the choice is made in one place.
struct Weights {
    const float* f32 = nullptr;
    const uint16_t* f16 = nullptr;

    /// fn(w) with the stored pointer, typed.
    template <typename Fn>
    void visit(Fn&& fn) const {
        if (f16)
            fn(f16);
        else
            fn(f32);
    }
    void gemv_rows(int64_t ldw, int64_t k, const float* x, const int32_t* rows, int64_t nrows,
                   const float* bias, float* out) const {
        visit([&](auto w) {
            kernels::gemv_rows_for(kernels::active(), w)(w, ldw, k, x, rows, nrows, bias, out);
        });
    }
    /// Bytes of `count` stored elements.
    int64_t bytes_of(int64_t count) const { return count * (f16 ? 2 : 4); }
    void gated_blocks(int64_t k, const float* x, int64_t n, const float* gates, int64_t nb,
                      int64_t block, int64_t b_begin, int64_t b_end, float* y, int64_t ldy,
                      GatedOff off, int32_t* samples) const {
        visit([&](auto w) {
            block_gated_gemm_blocks(w, k, x, n, gates, nb, block, b_begin, b_end, y, ldy, off,
                                    samples);
        });
    }
    void cond_gemv_batch(int64_t m, int64_t k, const float* x, int64_t n, const uint8_t* mask,
                         const float* bias, float* out) const {
        visit([&](auto w) { ccinfer::cond_gemv_batch(w, m, k, x, n, mask, bias, out); });
    }
};

/// The next `count` items of a cursor shared by the threads of a step (its old value). The
/// threads claim the products as they go, so they finish together even when one core runs
/// slower than the other (a busy neighbour on a shared machine, cache misses); no result
/// depends on who computes what (each output row's sum is the same sequence whichever rows
/// share its tile, and each unit's update is its own).
inline int64_t claim(int64_t* cursor, int64_t count) {
    int64_t start;
#pragma omp atomic capture
    {
        start = *cursor;
        *cursor += count;
    }
    return start;
}

/// Adds bias (m) to every row of Y (n, m).
inline void add_bias(float* y, int64_t n, int64_t m, const float* bias) {
    for (int64_t s = 0; s < n; ++s) {
        float* row = y + s * m;
        for (int64_t j = 0; j < m; ++j) row[j] += bias[j];
    }
}

/// Active units per claim of the one-stream step's shared cursor (16 units: 32 rows of a
/// conditional layer, 64-128 KiB of weights): small enough that the threads finish within a
/// few microseconds of each other, large enough that the claims cost nothing.
constexpr int64_t kStreamUnitsPerClaim = 16;

/// One thread's part of a one-stream step of one layer, inside the stack's parallel region
/// (the stack puts one barrier after each layer).
struct StreamStep {
    int ith = 0, nt = 1;         ///< this thread, threads in the region
    int32_t token = 0;           ///< the token (a lookup layer)
    const float* x;              ///< the layer's input (d floats; unused by a lookup layer)
    const float* h;              ///< the layer's state (h floats), read only
    float* hn;                   ///< the new state (h floats), written by the threads together
    float *gx, *gh;              ///< pre-activations, shared by the threads (G h each)
    float *zlr, *z;              ///< this thread's scratch: 2 r_max and h_max floats
    int32_t *units, *rows, *nz;  ///< this thread's scratch: h_max, 2 h_max, r_max
    int64_t* cursor;             ///< the layer's work cursor (claim), 0 at the start
    const int32_t* iota;         ///< 0, 1, 2, ... (at least G h and r entries)
};

/// A batch step of n streams of one layer (the layer opens its own parallel regions).
struct BatchStep {
    const int32_t* tokens;  ///< token input: n ids (a lookup layer)
    const float* x;         ///< the layer's input, (n, d) (unused by a lookup layer)
    float* H;               ///< the states, (n, h), updated in place
    int64_t n;
    const LayerPanels& panels;  ///< what pack() made
    GruWorkspace& ws;
    int64_t* cursor;  ///< the layer's work cursor
};

/// What the panel products of a batch step (dense and block layers) tell the kernel about the
/// weights they read next (ccinfer/weight_stream.h): a thread about to compute rows
/// [r0, r0 + rows) reads W_hh's rows after W_ih's, and a layer's first reads are W_ih's rows
/// (W_hh's for a token lookup).
struct PanelReads {
    const PanelWeights& ih;  ///< empty for a lookup
    const PanelWeights& hh;
    bool lookup, streamed;

    WeightStream hh_rows(int64_t r0, int64_t rows) const { return hh.stream(streamed, r0, rows); }
    WeightStream first_rows(int64_t r0, int64_t rows) const {
        return lookup ? hh_rows(r0, rows) : ih.stream(streamed, r0, rows);
    }
};

/// A layer of a GRUStack: its weights in the layout above and what it does in a step.
class GruLayer {
  public:
    virtual ~GruLayer() = default;
    GruKind kind() const { return kind_; }
    int64_t d() const { return d_; }
    int64_t h() const { return h_; }
    int64_t rank() const { return rank_; }  ///< 0 for a dense layer
    bool lookup() const { return lookup_; }
    /// Input columns a step multiplies (0 for a token lookup).
    int64_t in_width() const { return lookup_ ? 0 : d_; }

    /// This thread's part of a one-stream step (see StreamStep); returns the active units.
    virtual int64_t step(const StreamStep& s) const = 0;
    /// A batch step; returns the active (stream, unit) pairs.
    virtual int64_t step_batch(const BatchStep& b) const = 0;
    /// The batch step's packed copies of the weights (gru_panels.h).
    virtual LayerPanels pack(int threads) const = 0;
    /// Adds one step of n streams with `active` active units in total to s.
    virtual void count(GruLayerStats& s, int64_t n, int64_t active) const = 0;

    /// The checks every kind makes (before any allocation).
    static void check_common(const GruLayerInit& in, const std::string& where);

  protected:
    /// Checks `in` (messages start with `where`) and copies W_ih, W_hh and their biases in
    /// the layout above, `gates` rows per unit.
    GruLayer(const GruLayerInit& in, bool lookup, int64_t gates, const std::string& where);

    Weights w_ih() const { return {w_ih_.data(), w_ih16_.data()}; }  ///< unused for a lookup
    Weights w_hh() const { return {w_hh_.data(), w_hh16_.data()}; }
    /// The pre-activations W_ih x + b_ih of a token (a lookup layer).
    const float* lookup_row(int32_t token) const { return w_ih_.data() + int64_t{token} * G_ * h_; }
    /// Sample s's input pre-activations in a batch step: its lookup row, else row s of ws.gx
    /// (without b_ih, which the gate kernels add).
    const float* batch_gx(const BatchStep& b, int64_t s) const {
        return lookup_ ? lookup_row(b.tokens[s]) : b.ws.gx.data() + s * G_ * h_;
    }
    /// The panel reads of a batch step of this layer (whether its weights are streamed).
    PanelReads panel_reads(const BatchStep& b) const;

    GruKind kind_;
    int64_t d_, h_, rank_, G_;   ///< G_: rows per unit (3 dense, 2 conditional)
    bool lookup_;                ///< token input (layer 0)
    AlignedBuffer<float> w_ih_;  ///< (G h, d) unit-interleaved; a lookup: (d, G h) + b_ih
    AlignedBuffer<float> w_hh_;  ///< (G h, h) unit-interleaved
    /// Half-precision layers: W_ih (unless a lookup) and W_hh here, same layouts, and the
    /// float32 buffers above empty (a lookup table stays float32).
    AlignedBuffer<uint16_t> w_ih16_, w_hh16_;
    AlignedBuffer<float> b_ih_, b_hh_;  ///< (G h) unit-interleaved
};

/// The layer of in.kind. `lookup`: token input.
/// Throws std::invalid_argument (messages starting with `where`) on inconsistent weights.
std::shared_ptr<const GruLayer> make_gru_layer(const GruLayerInit& in, bool lookup,
                                               const std::string& where);

/// The arrays every kind has: W_ih (G h, d), W_hh (G h, h), b_ih and b_hh (G h), G gate
/// rows per unit.
std::vector<GruTensorSpec> gate_tensors(int64_t G, int64_t d, int64_t h);

/// One per kind (gru_layer_<kind>.cpp): the layer, and its arrays (gru_layer_tensors).
std::vector<GruTensorSpec> dense_tensors(int64_t d, int64_t h);
std::vector<GruTensorSpec> lowrank_tensors(int64_t d, int64_t h, int64_t r);
std::vector<GruTensorSpec> block_tensors(int64_t d, int64_t h, int64_t r);
std::shared_ptr<const GruLayer> make_dense_layer(const GruLayerInit& in, bool lookup,
                                                 const std::string& where);
std::shared_ptr<const GruLayer> make_lowrank_layer(const GruLayerInit& in, bool lookup,
                                                   const std::string& where);
std::shared_ptr<const GruLayer> make_block_layer(const GruLayerInit& in, bool lookup,
                                                 const std::string& where);

}  // namespace ccinfer::detail
