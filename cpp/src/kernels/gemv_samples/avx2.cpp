// gemv_samples on AVX2: the tail of k after the horizontal sum (dot_tail.h).
#include "../simd/avx2.h"

#include "gemv_samples.h"

namespace ccinfer::kernels::avx2 {
const GemvSamplesFn gemv_samples = kernels::gemv_samples<simd::Avx2, DotTail::kScalar, float>;
const GemvSamplesF16Fn gemv_samples_f16 =
    kernels::gemv_samples<simd::Avx2, DotTail::kScalar, uint16_t>;
}  // namespace ccinfer::kernels::avx2
