// out[s * ldo] = sum_j wrow[j] * X[s, j] (+ *bias) for s in samples: one weight row against
// the samples that need it. The reference every SIMD variant is tested against.
#include "gemv_samples.h"

namespace ccinfer::kernels::scalar {

void gemv_samples(const float* wrow, int64_t k, const float* x, int64_t ldx,
                  const int32_t* samples, int64_t nsamples, const float* bias, float* out,
                  int64_t ldo) {
    for (int64_t t = 0; t < nsamples; ++t) {
        const int64_t s = samples[t];
        const float* xs = x + s * ldx;
        float acc = 0.0f;
        for (int64_t j = 0; j < k; ++j) acc += wrow[j] * xs[j];
        out[s * ldo] = bias ? acc + *bias : acc;
    }
}

}  // namespace ccinfer::kernels::scalar
