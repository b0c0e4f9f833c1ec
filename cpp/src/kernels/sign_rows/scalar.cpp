// t_i = bias_i + sum_j u_j * A[i, j] (j ascending, starting from bias_i); the rows with
// t_i > tau, ascending, or the mask t > tau. The reference every SIMD variant is tested
// against. Written !(t <= tau) (the SIMD variants: _CMP_NLE_UQ) so a NaN score counts as
// active: an overflow inside a network then reaches the output as the dense layer would give
// it, instead of silently dropping rows. A is in panels of kSignPanel rows (sign_rows.h).
#include "sign_rows.h"

namespace ccinfer::kernels::scalar {
namespace {

template <typename Emit>
inline void scores(const float* a_panels, const float* bias, int64_t m, int64_t r, const float* u,
                   Emit emit) {
    for (int64_t p0 = 0; p0 < m; p0 += kSignPanel) {
        const float* panel = a_panels + p0 * r;
        const int64_t lanes = m - p0 < kSignPanel ? m - p0 : kSignPanel;
        float t[kSignPanel];
        for (int64_t l = 0; l < lanes; ++l) t[l] = bias[p0 + l];
        for (int64_t j = 0; j < r; ++j)
            for (int64_t l = 0; l < lanes; ++l) t[l] += u[j] * panel[j * kSignPanel + l];
        for (int64_t l = 0; l < lanes; ++l) emit(p0 + l, t[l]);
    }
}

int64_t sign_rows_impl(const float* a_panels, const float* bias, int64_t m, int64_t r,
                       const float* u, float tau, int32_t* rows_out) {
    CCINFER_DCHECK(m >= 0 && r >= 0);
    int64_t count = 0;
    scores(a_panels, bias, m, r, u, [&](int64_t i, float t) {
        if (!(t <= tau)) rows_out[count++] = static_cast<int32_t>(i);
    });
    return count;
}

void sign_mask_impl(const float* a_panels, const float* bias, int64_t m, int64_t r, const float* u,
                    float tau, uint8_t* mask) {
    CCINFER_DCHECK(m >= 0 && r >= 0);
    scores(a_panels, bias, m, r, u, [&](int64_t i, float t) { mask[i] = !(t <= tau); });
}

}  // namespace

const SignRowsFn sign_rows = sign_rows_impl;
const SignMaskFn sign_mask = sign_mask_impl;

}  // namespace ccinfer::kernels::scalar
