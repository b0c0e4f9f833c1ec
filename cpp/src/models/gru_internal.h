#pragma once
// Pieces shared by the single-stream and the batch step of GRUStack: the weight storage, the
// low-rank gate's pre-activation and the stats bookkeeping. (The per-unit gate maths are the
// kernels of kernels/gru_gates, one copy, so both paths round the same way.)

#include <cmath>
#include <stdexcept>
#include <string>

#include "../kernels/table.h"
#include "ccinfer/block_gated_gemm.h"
#include "ccinfer/cond_gemv_batch.h"
#include "ccinfer/gru.h"

namespace ccinfer::detail {

/// A layer matrix as stored: float32 or binary16 (exactly one pointer is non-null). Each
/// product passes the stored pointer to the routine for its type (the kernels::*_for
/// overloads, the ops' float / uint16_t overloads), so the choice is made in one place.
struct Weights {
    const float* f32 = nullptr;
    const uint16_t* f16 = nullptr;

    /// The matrix W_ih or W_hh of a GRU layer (its *16 buffer is empty unless half precision).
    template <typename Layer>
    static Weights ih(const Layer& L) {
        return {L.w_ih.data(), L.w_ih16.data()};
    }
    template <typename Layer>
    static Weights hh(const Layer& L) {
        return {L.w_hh.data(), L.w_hh16.data()};
    }

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

/// The low-rank gate's pre-activation u = W_z z^lr + b_z (h entries) of one stream, as a sum
/// of the rows of W_z^T (w_zt, rank x h) at the non-zero entries of the relu output z^lr
/// (about half are 0): an axpy over h, no per-row reductions. nz_index and nz_value are
/// scratch for rank entries each (nz_value may be zlr's own scratch half, not zlr itself).
inline void lowrank_preactivation(const float* w_zt, const float* b_z, int64_t rank, int64_t h,
                                  const float* zlr, int32_t* nz_index, float* nz_value, float* u) {
    int64_t nnz = 0;
    for (int64_t j = 0; j < rank; ++j)
        if (zlr[j] != 0.0f) {
            nz_index[nnz] = static_cast<int32_t>(j);
            nz_value[nnz++] = zlr[j];
        }
    kernels::active().sparse_input_cols(w_zt, h, nz_index, nz_value, nnz, 0, h, b_z, u);
}

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

/// Adds one step of n streams with `active` active units in total to a layer's stats.
inline void count(GruLayerStats& s, GruKind kind, int64_t d, int64_t h, int64_t rank, bool lookup,
                  int64_t n, int64_t active) {
    const int64_t in = lookup ? 0 : d;
    s.samples += n;
    s.z_active += active;
    if (kind == GruKind::kDense) {
        s.macs += n * 3 * h * (in + h);
        return;
    }
    s.rows_skipped += (n * h - active) * (lookup ? 2 : 4);
    s.macs += n * rank * (in + h) + (kind == GruKind::kLowRank ? n * h * rank : 0) +
              active * 2 * (in + h);
}

}  // namespace ccinfer::detail
