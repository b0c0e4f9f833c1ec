#pragma once
// Loads of 8 weights as float32 lanes, from float32 or from binary16 storage (widened with
// F16C: exact). Only for files compiled with the AVX2 flags (the avx2.cpp kernels).
#include <immintrin.h>

#include <cstdint>

namespace ccinfer::kernels::avx2 {

inline __m256 load_w8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load_w8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
/// The first n < 8 weights, the other lanes zero; reads only those n. `mask` has lanes
/// below n set (for float32's masked load).
inline __m256 load_w8(__m256i mask, int64_t, const float* p) {
    return _mm256_maskload_ps(p, mask);
}
inline __m256 load_w8(__m256i, int64_t n, const uint16_t* p) {
    alignas(16) uint16_t buf[8] = {};
    for (int64_t j = 0; j < n; ++j) buf[j] = p[j];
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
}

}  // namespace ccinfer::kernels::avx2
