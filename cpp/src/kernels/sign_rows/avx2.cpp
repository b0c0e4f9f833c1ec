// AVX2+FMA fused estimator step: one panel of 64 rows is 8 ymm accumulators, started from the
// bias; each of the r steps broadcasts u_j and streams 64 contiguous floats of A. Row numbers
// are appended branch-free: every lane writes its row at the current end of the list and
// advances the end only if it was a hit (the write stays below row m, so within rows_out).
#include <immintrin.h>

#include "sign_rows.h"

namespace ccinfer::kernels::avx2 {
namespace {

constexpr int kRegs = kSignPanel / 8;

inline void panel_scores(const float* panel, const float* bias, int64_t r, const float* u,
                         __m256 t[kRegs]) {
    for (int q = 0; q < kRegs; ++q) t[q] = _mm256_loadu_ps(bias + 8 * q);
    for (int64_t j = 0; j < r; ++j) {
        const __m256 uj = _mm256_broadcast_ss(u + j);
        const float* aj = panel + j * kSignPanel;
        for (int q = 0; q < kRegs; ++q)
            t[q] = _mm256_fmadd_ps(uj, _mm256_loadu_ps(aj + 8 * q), t[q]);
    }
}

int64_t sign_rows_impl(const float* a_panels, const float* bias, int64_t m, int64_t r,
                       const float* u, float tau, int32_t* rows_out) {
    const __m256 tau_v = _mm256_set1_ps(tau);
    int64_t count = 0;
    for (int64_t p0 = 0; p0 < m; p0 += kSignPanel) {
        __m256 t[kRegs];
        panel_scores(a_panels + p0 * r, bias + p0, r, u, t);
        for (int q = 0; q < kRegs; ++q) {
            const int64_t row0 = p0 + 8 * q;
            if (row0 >= m) break;
            const unsigned hit =
                static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(t[q], tau_v, _CMP_GT_OQ)));
            const int64_t lanes = m - row0 < 8 ? m - row0 : 8;
            for (int64_t l = 0; l < lanes; ++l) {
                rows_out[count] = static_cast<int32_t>(row0 + l);
                count += (hit >> l) & 1u;
            }
        }
    }
    return count;
}

void sign_mask_impl(const float* a_panels, const float* bias, int64_t m, int64_t r, const float* u,
                    float tau, uint8_t* mask) {
    const __m256 tau_v = _mm256_set1_ps(tau);
    for (int64_t p0 = 0; p0 < m; p0 += kSignPanel) {
        __m256 t[kRegs];
        panel_scores(a_panels + p0 * r, bias + p0, r, u, t);
        for (int q = 0; q < kRegs; ++q) {
            const int64_t row0 = p0 + 8 * q;
            if (row0 >= m) break;
            const unsigned hit =
                static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(t[q], tau_v, _CMP_GT_OQ)));
            const int64_t lanes = m - row0 < 8 ? m - row0 : 8;
            for (int64_t l = 0; l < lanes; ++l) mask[row0 + l] = (hit >> l) & 1u;
        }
    }
}

}  // namespace

const SignRowsFn sign_rows = sign_rows_impl;
const SignMaskFn sign_mask = sign_mask_impl;

}  // namespace ccinfer::kernels::avx2
