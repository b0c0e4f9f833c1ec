// AVX-512 fused estimator step: two panels of 64 rows are 8 zmm accumulators, started from the
// bias; each of the r steps broadcasts u_j and streams 64 contiguous floats of each panel. The
// compare gives a 16-bit mask per register; the row numbers are compressed in a register (the
// memory form of vpcompressd is slow on Zen 4) and written with a masked store, so nothing is
// written past the last row found.
#include <immintrin.h>

// gcc 12 reports the undefined pass-through operand inside the AVX-512 extract intrinsics as
// "used uninitialized" once they are inlined into templates: a false positive (see also
// -Wno-maybe-uninitialized in cmake/IsaFlags.cmake).
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "../simd/avx512.h"
#include "sign_rows.h"

namespace ccinfer::kernels::avx512 {
namespace {

using S = simd::Avx512;
constexpr int kRegs = kSignPanel / S::kWidth;

// Scores of the panels from row p0 on: two panels if both are needed, else one. Returns the
// rows covered.
inline int64_t scores_from(const float* a_panels, const float* bias, int64_t m, int64_t r,
                           const float* u, int64_t p0, __m512 t[2 * kRegs]) {
    if (p0 + kSignPanel < m) {
        sign_panel_scores<S, 2>(a_panels + p0 * r, bias + p0, r, u, t);
        return 2 * kSignPanel;
    }
    sign_panel_scores<S, 1>(a_panels + p0 * r, bias + p0, r, u, t);
    return kSignPanel;
}

int64_t sign_rows_impl(const float* a_panels, const float* bias, int64_t m, int64_t r,
                       const float* u, float tau, int32_t* rows_out) {
    CCINFER_DCHECK(m >= 0 && r >= 0);
    const __m512 tau_v = _mm512_set1_ps(tau);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int64_t count = 0;
    for (int64_t p0 = 0; p0 < m;) {
        __m512 t[2 * kRegs];
        const int64_t covered = scores_from(a_panels, bias, m, r, u, p0, t);
        for (int q = 0; q < covered / 16; ++q) {
            const int64_t row0 = p0 + 16 * q;
            const __mmask16 hit =
                _mm512_mask_cmp_ps_mask(S::first(m - row0), t[q], tau_v, _CMP_NLE_UQ);
            const __m512i rows = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(row0)), lane);
            const int found = __builtin_popcount(hit);
            _mm512_mask_storeu_epi32(rows_out + count, static_cast<__mmask16>((1u << found) - 1u),
                                     _mm512_maskz_compress_epi32(hit, rows));
            count += found;
        }
        p0 += covered;
    }
    return count;
}

void sign_mask_impl(const float* a_panels, const float* bias, int64_t m, int64_t r, const float* u,
                    float tau, uint8_t* mask) {
    CCINFER_DCHECK(m >= 0 && r >= 0);
    const __m512 tau_v = _mm512_set1_ps(tau);
    const __m128i one = _mm_set1_epi8(1);
    for (int64_t p0 = 0; p0 < m;) {
        __m512 t[2 * kRegs];
        const int64_t covered = scores_from(a_panels, bias, m, r, u, p0, t);
        for (int q = 0; q < covered / 16; ++q) {
            const int64_t row0 = p0 + 16 * q;
            const __mmask16 valid = S::first(m - row0);
            const __mmask16 hit = _mm512_cmp_ps_mask(t[q], tau_v, _CMP_NLE_UQ);
            _mm_mask_storeu_epi8(mask + row0, valid, _mm_maskz_mov_epi8(hit, one));
        }
        p0 += covered;
    }
}

}  // namespace

const SignRowsFn sign_rows = sign_rows_impl;
const SignMaskFn sign_mask = sign_mask_impl;

}  // namespace ccinfer::kernels::avx512
