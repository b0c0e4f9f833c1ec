// AVX-512: one weight row against four samples at a time, so each load of the row (from L1)
// serves four products; masked loads for the row tail. Which samples share a block depends
// only on the row's sample set, never on the thread split.
#include <immintrin.h>

#include "../weights_avx512.h"
#include "gemv_samples.h"

namespace ccinfer::kernels::avx512 {
namespace {

template <typename W>
void gemv_samples_impl(const W* wrow, int64_t k, const float* x, int64_t ldx,
                  const int32_t* samples, int64_t nsamples, const float* bias, float* out,
                  int64_t ldo) {
    const int64_t k16 = k & ~int64_t{15};
    const __mmask16 tail = static_cast<__mmask16>((1u << (k - k16)) - 1u);
    int64_t t = 0;
    for (; t + 4 <= nsamples; t += 4) {
        const float* x0 = x + samples[t] * ldx;
        const float* x1 = x + samples[t + 1] * ldx;
        const float* x2 = x + samples[t + 2] * ldx;
        const float* x3 = x + samples[t + 3] * ldx;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (int64_t j = 0; j < k16; j += 16) {
            const __m512 wv = load_w16(wrow + j);
            a0 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x0 + j), a0);
            a1 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x1 + j), a1);
            a2 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x2 + j), a2);
            a3 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x3 + j), a3);
        }
        if (tail) {
            const __m512 wv = load_w16(tail, wrow + k16);
            a0 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, x0 + k16), a0);
            a1 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, x1 + k16), a1);
            a2 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, x2 + k16), a2);
            a3 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(tail, x3 + k16), a3);
        }
        const float s[4] = {_mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1),
                            _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a3)};
        for (int r = 0; r < 4; ++r) out[samples[t + r] * ldo] = bias ? s[r] + *bias : s[r];
    }
    // Left-over samples one at a time with four accumulators: a single FMA chain would wait
    // on its latency, and at low density most rows have fewer than four samples.
    for (; t < nsamples; ++t) {
        const float* xs = x + samples[t] * ldx;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 64 <= k16; j += 64) {
            a0 = _mm512_fmadd_ps(load_w16(wrow + j), _mm512_loadu_ps(xs + j), a0);
            a1 = _mm512_fmadd_ps(load_w16(wrow + j + 16), _mm512_loadu_ps(xs + j + 16), a1);
            a2 = _mm512_fmadd_ps(load_w16(wrow + j + 32), _mm512_loadu_ps(xs + j + 32), a2);
            a3 = _mm512_fmadd_ps(load_w16(wrow + j + 48), _mm512_loadu_ps(xs + j + 48), a3);
        }
        for (; j < k16; j += 16)
            a0 = _mm512_fmadd_ps(load_w16(wrow + j), _mm512_loadu_ps(xs + j), a0);
        if (tail)
            a1 = _mm512_fmadd_ps(load_w16(tail, wrow + k16),
                                 _mm512_maskz_loadu_ps(tail, xs + k16), a1);
        const float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1),
                                                           _mm512_add_ps(a2, a3)));
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

}  // namespace ccinfer::kernels::avx512
