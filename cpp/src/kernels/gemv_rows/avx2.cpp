// AVX2+FMA gemv over a row list: four rows at a time share each load of x, two accumulators
// per row hide the FMA latency.
#include <immintrin.h>

#include "gemv_rows.h"

namespace ccinfer::kernels::avx2 {
namespace {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float dot1(const float* a, const float* x, int64_t k) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= k; j += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(x + j), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(x + j + 8), acc1);
    }
    for (; j + 8 <= k; j += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(x + j), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; j < k; ++j) s += a[j] * x[j];
    return s;
}

}  // namespace

void gemv_rows(const float* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
               int64_t nrows, const float* bias, float* out) {
    int64_t i = 0;
    for (; i + 4 <= nrows; i += 4) {
        const float* w0 = w + rows[i] * ldw;
        const float* w1 = w + rows[i + 1] * ldw;
        const float* w2 = w + rows[i + 2] * ldw;
        const float* w3 = w + rows[i + 3] * ldw;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 8 <= k; j += 8) {
            const __m256 xv = _mm256_loadu_ps(x + j);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + j), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + j), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + j), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + j), xv, a3);
        }
        float s[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
        for (; j < k; ++j) {
            s[0] += w0[j] * x[j];
            s[1] += w1[j] * x[j];
            s[2] += w2[j] * x[j];
            s[3] += w3[j] * x[j];
        }
        for (int r = 0; r < 4; ++r) {
            const int32_t row = rows[i + r];
            out[row] = bias ? s[r] + bias[row] : s[r];
        }
    }
    for (; i < nrows; ++i) {
        const int32_t row = rows[i];
        const float s = dot1(w + row * ldw, x, k);
        out[row] = bias ? s + bias[row] : s;
    }
}

}  // namespace ccinfer::kernels::avx2
