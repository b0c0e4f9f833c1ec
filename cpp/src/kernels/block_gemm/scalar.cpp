// y[s, r] = sum_j x[s, j] * w[r, j] for r < nrows and s = samples[i] (or i when samples is
// null): the reference every SIMD variant is tested against. Half weights are widened
// (exactly) and summed in the same order.
#include "block_gemm.h"
#include "ccinfer/half.h"

namespace ccinfer::kernels::scalar {
namespace {

template <typename W>
void block_gemm_impl(const W* w, int64_t ldw, int64_t nrows, int64_t k, const float* x, int64_t ldx,
                     const int32_t* samples, int64_t nsamples, float* y, int64_t ldy) {
    for (int64_t i = 0; i < nsamples; ++i) {
        const int64_t s = samples ? samples[i] : i;
        const float* xs = x + s * ldx;
        float* ys = y + s * ldy;
        for (int64_t r = 0; r < nrows; ++r) {
            const W* wr = w + r * ldw;
            float acc = 0.0f;
            for (int64_t j = 0; j < k; ++j) acc += xs[j] * widen(wr[j]);
            ys[r] = acc;
        }
    }
}

}  // namespace

const BlockGemmFn block_gemm = block_gemm_impl<float>;
const BlockGemmF16Fn block_gemm_f16 = block_gemm_impl<uint16_t>;

}  // namespace ccinfer::kernels::scalar
