// AVX-512 tree-path axpy. Columns go in tiles of up to 128 (8 accumulators in registers, the
// whole tile of a q = 128 layer in one pass over the term list); for each active input the k+1
// node rows of its path are summed in registers (w = ((T_0 + T_1) + T_2) + ...), then
// y = fma(x_t, w, y). The tile width only chooses how many columns share a pass: every column
// gets the same chain whatever the tile or thread slice, so results do not depend on either.
// Tails use masked loads and stores.
#include <immintrin.h>

#include "tree_axpy.h"

namespace ccinfer::kernels::avx512 {
namespace {

inline __mmask16 lanes(int64_t n) {  // the first min(max(n, 0), 16) lanes
    return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u);
}

template <int V>
void tile(const float* table, int64_t ldt, const int32_t* node_rows, int64_t path_len,
          const float* nz_value, int64_t nnz, int64_t c, int64_t width, const float* bias,
          bool relu, float* out) {
    __mmask16 mask[V];
    __m512 acc[V];
    for (int v = 0; v < V; ++v) {
        mask[v] = lanes(width - 16 * v);
        acc[v] = bias ? _mm512_maskz_loadu_ps(mask[v], bias + c + 16 * v) : _mm512_setzero_ps();
    }
    for (int64_t t = 0; t < nnz; ++t) {
        const int32_t* rows = node_rows + t * path_len;
        const float* r = table + int64_t{rows[0]} * ldt + c;
        __m512 w[V];
        for (int v = 0; v < V; ++v) w[v] = _mm512_maskz_loadu_ps(mask[v], r + 16 * v);
        for (int64_t l = 1; l < path_len; ++l) {
            r = table + int64_t{rows[l]} * ldt + c;
            for (int v = 0; v < V; ++v)
                w[v] = _mm512_add_ps(w[v], _mm512_maskz_loadu_ps(mask[v], r + 16 * v));
        }
        const __m512 x = _mm512_set1_ps(nz_value[t]);
        for (int v = 0; v < V; ++v) acc[v] = _mm512_fmadd_ps(x, w[v], acc[v]);
    }
    for (int v = 0; v < V; ++v) {
        if (relu) acc[v] = _mm512_max_ps(acc[v], _mm512_setzero_ps());
        _mm512_mask_storeu_ps(out + c + 16 * v, mask[v], acc[v]);
    }
}

}  // namespace

void tree_axpy(const float* table, int64_t ldt, const int32_t* node_rows, int64_t path_len,
               const float* nz_value, int64_t nnz, int64_t c0, int64_t c1, const float* bias,
               bool relu, float* out) {
    for (int64_t c = c0; c < c1;) {
        const int64_t width = c1 - c;
        if (width > 64) {
            tile<8>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias, relu, out);
            c += 128;
        } else if (width > 32) {
            tile<4>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias, relu, out);
            c += 64;
        } else if (width > 16) {
            tile<2>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias, relu, out);
            c += 32;
        } else {
            tile<1>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias, relu, out);
            c += 16;
        }
    }
}

}  // namespace ccinfer::kernels::avx512
