// gemv_rows on AVX2: two accumulators per row over alternate vector steps (eight FMA chains
// over four rows cover the FMA latency), the tail of k after the horizontal sum (dot_tail.h).
#include "../simd/avx2.h"

#include "gemv_rows.h"

namespace ccinfer::kernels::avx2 {
const GemvRowsFn gemv_rows = kernels::gemv_rows<simd::Avx2, 2, DotTail::kScalar, float>;
const GemvRowsF16Fn gemv_rows_f16 = kernels::gemv_rows<simd::Avx2, 2, DotTail::kScalar, uint16_t>;
}  // namespace ccinfer::kernels::avx2
