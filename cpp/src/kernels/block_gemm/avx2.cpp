// The block GEMM on AVX2: a tile of 3 samples x 4 weight rows keeps 12 accumulators of 8
// lanes (7 loads per 12 FMAs, all 16 ymm registers in use), in the row-group order.
#include "../simd/avx2.h"

#include "block_gemm.h"

namespace ccinfer::kernels {

// The four sums by a horizontal-add tree, stored with one 128-bit store.
template <>
struct BlockSums<simd::Avx2> {
    static __m128 reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
        const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    }
    static void store4(float* y, __m256 a0, __m256 a1, __m256 a2, __m256 a3) {
        _mm_storeu_ps(y, reduce4(a0, a1, a2, a3));
    }
    static float sum1(__m256 a) {
        const __m256 z = _mm256_setzero_ps();
        return _mm_cvtss_f32(reduce4(a, z, z, z));
    }
};

namespace avx2 {
const BlockGemmFn block_gemm = block_gemm_row_groups<simd::Avx2, 3, float>;
const BlockGemmF16Fn block_gemm_f16 = block_gemm_row_groups<simd::Avx2, 3, uint16_t>;
}  // namespace avx2

}  // namespace ccinfer::kernels
