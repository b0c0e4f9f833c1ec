#pragma once
// Loads of 16 weights as float32 lanes, from float32 or from binary16 storage (widened with
// F16C: exact). Only for files compiled with the AVX-512 flags (the avx512.cpp kernels).
#include <immintrin.h>

#include <cstdint>

namespace ccinfer::kernels::avx512 {

inline __m512 load_w16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load_w16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
/// Lanes set in `m` load, the others are zero and touch no memory.
inline __m512 load_w16(__mmask16 m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_w16(__mmask16 m, const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

}  // namespace ccinfer::kernels::avx512
