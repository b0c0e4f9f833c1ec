// The panel GEMM on AVX-512: a tile of up to 12 samples against a whole panel of 32 rows
// (24 of the 32 zmm registers), prefetching the streamed weights.
#include "../simd/avx512.h"

#include "panel_gemm.h"

namespace ccinfer::kernels::avx512 {
const PanelGemmFn panel_gemm = kernels::panel_gemm<simd::Avx512, 12, true, float>;
const PanelGemmF16Fn panel_gemm_f16 = kernels::panel_gemm<simd::Avx512, 12, true, uint16_t>;
}  // namespace ccinfer::kernels::avx512
