// gemv_rows on AVX-512: one accumulator per row, the tail of k as one masked step, so no
// scalar loop runs (dot_tail.h).
#include "../simd/avx512.h"

#include "gemv_rows.h"

namespace ccinfer::kernels::avx512 {
const GemvRowsFn gemv_rows = kernels::gemv_rows<simd::Avx512, 1, DotTail::kMasked, float>;
const GemvRowsF16Fn gemv_rows_f16 = kernels::gemv_rows<simd::Avx512, 1, DotTail::kMasked, uint16_t>;
}  // namespace ccinfer::kernels::avx512
