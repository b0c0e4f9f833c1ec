// AVX2+FMA tree-path axpy: the structure of avx512.cpp with 8-wide vectors and tiles of up to
// 32 columns (4 accumulators + 4 path sums fit the 16 ymm registers). Same chain per column:
// w = ((T_0 + T_1) + T_2) + ..., y = fma(x_t, w, y).
#include <immintrin.h>

#include "tree_axpy.h"

namespace ccinfer::kernels::avx2 {
namespace {

inline __m256i lanes(int64_t n) {  // the first min(max(n, 0), 8) lanes set
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int32_t c = n >= 8 ? 8 : n <= 0 ? 0 : static_cast<int32_t>(n);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), idx);
}

template <int V>
void tile(const float* table, int64_t ldt, const int32_t* node_rows, int64_t path_len,
          const float* nz_value, int64_t nnz, int64_t c, int64_t width, const float* bias,
          bool relu, float* out) {
    __m256i mask[V];
    __m256 acc[V];
    for (int v = 0; v < V; ++v) {
        mask[v] = lanes(width - 8 * v);
        acc[v] = bias ? _mm256_maskload_ps(bias + c + 8 * v, mask[v]) : _mm256_setzero_ps();
    }
    for (int64_t t = 0; t < nnz; ++t) {
        const int32_t* rows = node_rows + t * path_len;
        const float* r = table + int64_t{rows[0]} * ldt + c;
        __m256 w[V];
        for (int v = 0; v < V; ++v) w[v] = _mm256_maskload_ps(r + 8 * v, mask[v]);
        for (int64_t l = 1; l < path_len; ++l) {
            r = table + int64_t{rows[l]} * ldt + c;
            for (int v = 0; v < V; ++v)
                w[v] = _mm256_add_ps(w[v], _mm256_maskload_ps(r + 8 * v, mask[v]));
        }
        const __m256 x = _mm256_set1_ps(nz_value[t]);
        for (int v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(x, w[v], acc[v]);
    }
    for (int v = 0; v < V; ++v) {
        if (relu) acc[v] = _mm256_max_ps(acc[v], _mm256_setzero_ps());
        _mm256_maskstore_ps(out + c + 8 * v, mask[v], acc[v]);
    }
}

}  // namespace

void tree_axpy(const float* table, int64_t ldt, const int32_t* node_rows, int64_t path_len,
               const float* nz_value, int64_t nnz, int64_t c0, int64_t c1, const float* bias,
               bool relu, float* out) {
    for (int64_t c = c0; c < c1;) {
        const int64_t width = c1 - c;
        if (width > 16) {
            tile<4>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias, relu, out);
            c += 32;
        } else if (width > 8) {
            tile<2>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias, relu, out);
            c += 16;
        } else {
            tile<1>(table, ldt, node_rows, path_len, nz_value, nnz, c, width, bias, relu, out);
            c += 8;
        }
    }
}

}  // namespace ccinfer::kernels::avx2
