// out[c] = phi((bias[c] or 0) + sum_t nz_value[t] * sum_l table[node_rows[t * L + l], c]) for
// c in [c0, c1), L = path_len: for each active input t the weight vector of its tree path is
// summed first (l = 0, 1, ..., L - 1, the F_j(b) of Cho & Bengio), then multiplied by its
// value and added, in order of t. The reference every SIMD variant is tested against.
#include "tree_axpy.h"

namespace ccinfer::kernels::scalar {
namespace {

void reference(const float* table, int64_t ldt, const int32_t* node_rows, int64_t path_len,
               const float* nz_value, int64_t nnz, int64_t c0, int64_t c1, const float* bias,
               bool relu, float* out) {
    for (int64_t c = c0; c < c1; ++c) out[c] = bias ? bias[c] : 0.0f;
    for (int64_t t = 0; t < nnz; ++t) {
        const int32_t* rows = node_rows + t * path_len;
        const float v = nz_value[t];
        const float* r0 = table + int64_t{rows[0]} * ldt;
        for (int64_t c = c0; c < c1; ++c) {
            float w = r0[c];
            for (int64_t l = 1; l < path_len; ++l) w += table[int64_t{rows[l]} * ldt + c];
            out[c] += v * w;
        }
    }
    if (relu)
        for (int64_t c = c0; c < c1; ++c) out[c] = out[c] > 0.0f ? out[c] : 0.0f;
}

}  // namespace

const TreeAxpyFn tree_axpy = reference;

}  // namespace ccinfer::kernels::scalar
