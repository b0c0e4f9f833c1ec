// AVX2+FMA: one weight row against four samples at a time, so each load of the row (from L1)
// serves four products. Which samples share a block depends only on the row's sample set,
// never on the thread split.
#include <immintrin.h>

#include <cmath>

#include "../weights_avx2.h"
#include "ccinfer/half.h"
#include "gemv_samples.h"

namespace ccinfer::kernels::avx2 {
namespace {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <typename W>
void gemv_samples_impl(const W* wrow, int64_t k, const float* x, int64_t ldx,
                  const int32_t* samples, int64_t nsamples, const float* bias, float* out,
                  int64_t ldo) {
    int64_t t = 0;
    for (; t + 4 <= nsamples; t += 4) {
        const float* x0 = x + samples[t] * ldx;
        const float* x1 = x + samples[t + 1] * ldx;
        const float* x2 = x + samples[t + 2] * ldx;
        const float* x3 = x + samples[t + 3] * ldx;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 8 <= k; j += 8) {
            const __m256 wv = load_w8(wrow + j);
            a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x0 + j), a0);
            a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x1 + j), a1);
            a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x2 + j), a2);
            a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x3 + j), a3);
        }
        float s[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
        // Scalar tail with explicit fma: both weight types round alike (left to itself the
        // compiler may contract one instantiation and not the other).
        for (; j < k; ++j) {
            s[0] = std::fma(widen(wrow[j]), x0[j], s[0]);
            s[1] = std::fma(widen(wrow[j]), x1[j], s[1]);
            s[2] = std::fma(widen(wrow[j]), x2[j], s[2]);
            s[3] = std::fma(widen(wrow[j]), x3[j], s[3]);
        }
        for (int r = 0; r < 4; ++r) out[samples[t + r] * ldo] = bias ? s[r] + *bias : s[r];
    }
    // Left-over samples one at a time with four accumulators: a single FMA chain would wait
    // on its latency, and at low density most rows have fewer than four samples.
    for (; t < nsamples; ++t) {
        const float* xs = x + samples[t] * ldx;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 32 <= k; j += 32) {
            a0 = _mm256_fmadd_ps(load_w8(wrow + j), _mm256_loadu_ps(xs + j), a0);
            a1 = _mm256_fmadd_ps(load_w8(wrow + j + 8), _mm256_loadu_ps(xs + j + 8), a1);
            a2 = _mm256_fmadd_ps(load_w8(wrow + j + 16), _mm256_loadu_ps(xs + j + 16), a2);
            a3 = _mm256_fmadd_ps(load_w8(wrow + j + 24), _mm256_loadu_ps(xs + j + 24), a3);
        }
        for (; j + 8 <= k; j += 8)
            a0 = _mm256_fmadd_ps(load_w8(wrow + j), _mm256_loadu_ps(xs + j), a0);
        float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; j < k; ++j) s = std::fma(widen(wrow[j]), xs[j], s);
        out[samples[t] * ldo] = bias ? s + *bias : s;
    }
}

}  // namespace

void gemv_samples(const float* wrow, int64_t k, const float* x, int64_t ldx,
                  const int32_t* samples, int64_t nsamples, const float* bias, float* out,
                  int64_t ldo) {
    gemv_samples_impl(wrow, k, x, ldx, samples, nsamples, bias, out, ldo);
}

void gemv_samples_f16(const uint16_t* wrow, int64_t k, const float* x, int64_t ldx,
                      const int32_t* samples, int64_t nsamples, const float* bias, float* out,
                      int64_t ldo) {
    gemv_samples_impl(wrow, k, x, ldx, samples, nsamples, bias, out, ldo);
}

}  // namespace ccinfer::kernels::avx2
