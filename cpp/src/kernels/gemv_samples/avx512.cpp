// gemv_samples on AVX-512: the tail of k as one masked step (dot_tail.h).
#include "../simd/avx512.h"

#include "gemv_samples.h"

namespace ccinfer::kernels::avx512 {
const GemvSamplesFn gemv_samples = kernels::gemv_samples<simd::Avx512, DotTail::kMasked, float>;
const GemvSamplesF16Fn gemv_samples_f16 =
    kernels::gemv_samples<simd::Avx512, DotTail::kMasked, uint16_t>;
}  // namespace ccinfer::kernels::avx512
