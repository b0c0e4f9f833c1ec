// The panel GEMM on AVX2: the 16 ymm registers hold a tile of up to 6 samples against a strip
// of 16 rows (12 accumulators, 2 weight vectors, 1 broadcast), two strips a panel; no
// prefetch (`stream` is ignored).
#include "../simd/avx2.h"

#include "panel_gemm.h"

namespace ccinfer::kernels::avx2 {
const PanelGemmFn panel_gemm = kernels::panel_gemm<simd::Avx2, 6, false, float>;
const PanelGemmF16Fn panel_gemm_f16 = kernels::panel_gemm<simd::Avx2, 6, false, uint16_t>;
}  // namespace ccinfer::kernels::avx2
