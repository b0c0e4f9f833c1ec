// out[s * ldo] = sum_j wrow[j] * X[s, j] (+ *bias) for s in samples: one weight row against
// the samples that need it. The reference every SIMD variant is tested against. Half weights
// are widened (exactly) and summed in the same order.
#include "ccinfer/half.h"
#include "gemv_samples.h"

namespace ccinfer::kernels::scalar {
namespace {

template <typename W>
void gemv_samples_impl(const W* wrow, int64_t k, const float* x, int64_t ldx,
                       const int32_t* samples, int64_t nsamples, const float* bias, float* out,
                       int64_t ldo) {
    for (int64_t t = 0; t < nsamples; ++t) {
        const int64_t s = samples[t];
        const float* xs = x + s * ldx;
        float acc = 0.0f;
        for (int64_t j = 0; j < k; ++j) acc += widen(wrow[j]) * xs[j];
        out[s * ldo] = bias ? acc + *bias : acc;
    }
}

}  // namespace

const GemvSamplesFn gemv_samples = gemv_samples_impl<float>;
const GemvSamplesF16Fn gemv_samples_f16 = gemv_samples_impl<uint16_t>;

}  // namespace ccinfer::kernels::scalar
