// The block GEMM on AVX-512: a tile of 6 samples x 4 weight rows keeps 24 accumulators of 16
// lanes (10 loads per 24 FMAs), in the panel order.
#include "../simd/avx512.h"

// gcc 12 reports the undefined pass-through operand inside the AVX-512 extract intrinsics as
// "used uninitialized" once they are inlined into templates: a false positive (see also
// -Wno-maybe-uninitialized in cmake/IsaFlags.cmake).
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "block_gemm.h"

namespace ccinfer::kernels {

// The four sums: each folded to 256 bits (low half + high half), then the AVX2 tree of
// horizontal adds, stored with one 128-bit store.
template <>
struct BlockSums<simd::Avx512> {
    static __m256 fold(__m512 a) {
        return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    }
    static __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
        const __m256 h =
            _mm256_hadd_ps(_mm256_hadd_ps(fold(a0), fold(a1)), _mm256_hadd_ps(fold(a2), fold(a3)));
        return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    }
    static void store4(float* y, __m512 a0, __m512 a1, __m512 a2, __m512 a3) {
        _mm_storeu_ps(y, reduce4(a0, a1, a2, a3));
    }
    static float sum1(__m512 a) {
        const __m512 z = _mm512_setzero_ps();
        return _mm_cvtss_f32(reduce4(a, z, z, z));
    }
};

namespace avx512 {
const BlockGemmFn block_gemm = block_gemm_panels<simd::Avx512, 6, float>;
const BlockGemmF16Fn block_gemm_f16 = block_gemm_panels<simd::Avx512, 6, uint16_t>;
}  // namespace avx512

}  // namespace ccinfer::kernels
