// AVX2+FMA fused estimator step: one panel of 64 rows is 8 ymm accumulators, started from the
// bias; each of the r steps broadcasts u_j and streams 64 contiguous floats of A. Row numbers
// are appended branch-free: every lane writes its row at the current end of the list and
// advances the end only if it was a hit (the write stays below row m, so within rows_out).
#include "../simd/avx2.h"

#include <immintrin.h>

#include "sign_rows.h"

namespace ccinfer::kernels::avx2 {
namespace {

using S = simd::Avx2;
constexpr int kRegs = kSignPanel / S::kWidth;

// Calls emit(row0, hit, lanes) for each register of scores: hit has bit l set where row
// row0 + l scores above tau, for the lanes = min(8, m - row0) real rows.
template <typename Emit>
inline void for_each_register(const float* a_panels, const float* bias, int64_t m, int64_t r,
                              const float* u, float tau, Emit&& emit) {
    const __m256 tau_v = _mm256_set1_ps(tau);
    for (int64_t p0 = 0; p0 < m; p0 += kSignPanel) {
        __m256 t[kRegs];
        sign_panel_scores<S, 1>(a_panels + p0 * r, bias + p0, r, u, t);
        for (int q = 0; q < kRegs; ++q) {
            const int64_t row0 = p0 + 8 * q;
            if (row0 >= m) break;
            const unsigned hit =
                static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(t[q], tau_v, _CMP_NLE_UQ)));
            emit(row0, hit, m - row0 < 8 ? m - row0 : 8);
        }
    }
}

int64_t sign_rows_impl(const float* a_panels, const float* bias, int64_t m, int64_t r,
                       const float* u, float tau, int32_t* rows_out) {
    CCINFER_DCHECK(m >= 0 && r >= 0);
    int64_t count = 0;
    for_each_register(a_panels, bias, m, r, u, tau, [&](int64_t row0, unsigned hit, int64_t lanes) {
        for (int64_t l = 0; l < lanes; ++l) {
            rows_out[count] = static_cast<int32_t>(row0 + l);
            count += (hit >> l) & 1u;
        }
    });
    return count;
}

void sign_mask_impl(const float* a_panels, const float* bias, int64_t m, int64_t r, const float* u,
                    float tau, uint8_t* mask) {
    CCINFER_DCHECK(m >= 0 && r >= 0);
    for_each_register(a_panels, bias, m, r, u, tau, [&](int64_t row0, unsigned hit, int64_t lanes) {
        for (int64_t l = 0; l < lanes; ++l) mask[row0 + l] = (hit >> l) & 1u;
    });
}

}  // namespace

const SignRowsFn sign_rows = sign_rows_impl;
const SignMaskFn sign_mask = sign_mask_impl;

}  // namespace ccinfer::kernels::avx2
