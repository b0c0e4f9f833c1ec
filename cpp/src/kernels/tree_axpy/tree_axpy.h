#pragma once
// The tree-path axpy (ccinfer/tree_gated.h) written once over a vector layer S (simd/*.h).
// Columns go in tiles of up to kMaxRegs vectors (the whole tile of a q = 128 layer in one pass
// over the term list on AVX-512); for each active input the node rows of its path are summed
// in registers (w = ((T_0 + T_1) + T_2) + ...), then y = fma(x_t, w, y). The tile only chooses
// how many columns share a pass: every column gets the same chain whatever the tile or thread
// slice, so results do not depend on either. Tails are masked loads and stores.
#include "../preconditions.h"
#include "../table.h"

namespace ccinfer::kernels {

template <class S, int V>
void tree_axpy_tile(const float* table, int64_t ldt, const int32_t* node_rows, int64_t path_len,
                    const float* nz_value, int64_t nnz, int64_t c, int64_t width, const float* bias,
                    bool relu, float* out) {
    constexpr int64_t W = S::kWidth;
    typename S::Mask mask[V];
    typename S::V acc[V];
    for (int v = 0; v < V; ++v) {
        mask[v] = S::first(width - W * v);
        acc[v] = bias ? S::load(mask[v], bias + c + W * v) : S::zero();
    }
    for (int64_t t = 0; t < nnz; ++t) {
        const int32_t* rows = node_rows + t * path_len;
        const float* r = table + int64_t{rows[0]} * ldt + c;
        typename S::V w[V];
        for (int v = 0; v < V; ++v) w[v] = S::load(mask[v], r + W * v);
        for (int64_t l = 1; l < path_len; ++l) {
            r = table + int64_t{rows[l]} * ldt + c;
            for (int v = 0; v < V; ++v) w[v] = S::add(w[v], S::load(mask[v], r + W * v));
        }
        const typename S::V x = S::set1(nz_value[t]);
        for (int v = 0; v < V; ++v) acc[v] = S::fma(x, w[v], acc[v]);
    }
    for (int v = 0; v < V; ++v) {
        if (relu) acc[v] = S::max(acc[v], S::zero());
        S::store(mask[v], out + c + W * v, acc[v]);
    }
}

/// kMaxRegs: the widest tile, in vectors (accumulators and path sums must fit the registers:
/// 8 + 8 of 32 zmm, 4 + 4 of 16 ymm). A slice of width columns takes the narrowest tile that
/// covers more than half of what is left.
template <class S, int kMaxRegs>
void tree_axpy(const float* table, int64_t ldt, const int32_t* node_rows, int64_t path_len,
               const float* nz_value, int64_t nnz, int64_t c0, int64_t c1, const float* bias,
               bool relu, float* out) {
    static_assert(kMaxRegs == 4 || kMaxRegs == 8, "tiles of 8, 4, 2 and 1 vectors");
    CCINFER_DCHECK(0 <= c0 && c0 <= c1 && c1 <= ldt && path_len >= 1 && nnz >= 0);
    CCINFER_DCHECK(indices_in_range(node_rows, nnz * path_len, kAnyIndex));
    constexpr int64_t W = S::kWidth;
    for (int64_t c = c0; c < c1;) {
        const int64_t width = c1 - c;
        if (kMaxRegs >= 8 && width > 4 * W) {
            tree_axpy_tile<S, 8>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias,
                                 relu, out);
            c += 8 * W;
        } else if (width > 2 * W) {
            tree_axpy_tile<S, 4>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias,
                                 relu, out);
            c += 4 * W;
        } else if (width > W) {
            tree_axpy_tile<S, 2>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias,
                                 relu, out);
            c += 2 * W;
        } else {
            tree_axpy_tile<S, 1>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias,
                                 relu, out);
            c += W;
        }
    }
}

}  // namespace ccinfer::kernels
