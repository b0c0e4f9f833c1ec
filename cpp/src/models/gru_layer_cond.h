#pragma once
// What the two conditional kinds (low-rank and block z) share: the z path's first stage
// z^lr = relu(W_zl x + b_zl + U_zl h), the one-stream step over the active units only (units
// with z = 0 keep their state bit for bit, their rows never read) and the stats. Each kind
// says how z^lr becomes z (gru_layer_lowrank.cpp, gru_layer_block.cpp) and does its own
// batch step.

#include "gru_layer.h"

namespace ccinfer::detail {

/// The arrays the conditional kinds share: gate_tensors(2, d, h), then W_zl (r, d), U_zl
/// (r, h), b_zl (r).
std::vector<GruTensorSpec> cond_tensors(int64_t d, int64_t h, int64_t r);

class CondLayer : public GruLayer {
  public:
    int64_t step(const StreamStep& s) const final;
    void count(GruLayerStats& s, int64_t n, int64_t active) const final;
    /// The checks of the z path's first stage (after check_common).
    static void check_cond(const GruLayerInit& in, const std::string& where);

  protected:
    CondLayer(const GruLayerInit& in, bool lookup, const std::string& where);

    /// One stream's z from z^lr (rank entries, overwritable): z (h entries) and the active
    /// units, ascending, into units (when not null); returns their number. scratch: rank
    /// floats; nz: rank int32.
    virtual int64_t z_of(float* zlr, float* scratch, float* z, int32_t* units,
                         int32_t* nz) const = 0;
    /// Multiply-adds of the z path per stream past its first stage.
    virtual int64_t z_tail_macs() const = 0;

    AlignedBuffer<float> w_zl_;  ///< (rank, d); a lookup: (d, rank) with b_zl added
    AlignedBuffer<float> u_zl_;  ///< (rank, h)
    AlignedBuffer<float> b_zl_;  ///< (rank)
};

}  // namespace ccinfer::detail
