// AVX2+FMA gemv over a row list: four rows at a time share each load of x. A row's sum is the
// same sequence whether it is computed in a block of four or alone (one accumulator, 8-wide
// steps, horizontal sum, scalar tail), so the result never depends on how rows are split
// between threads. The next block's rows are prefetched while one block is multiplied.
#include <immintrin.h>

#include <cmath>

#include "../weights_avx2.h"
#include "ccinfer/half.h"
#include "gemv_rows.h"

namespace ccinfer::kernels::avx2 {
namespace {

// Rows at least this long (floats) are left to the hardware prefetcher (see avx512.cpp).
constexpr int64_t kNoPrefetchRowLength = 2048;

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <bool kPrefetch, typename W>
void gemv_rows_impl(const W* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
                    int64_t nrows, const float* bias, float* out) {
    int64_t i = 0;
    for (; i + 4 <= nrows; i += 4) {
        const W* w0 = w + rows[i] * ldw;
        const W* w1 = w + rows[i + 1] * ldw;
        const W* w2 = w + rows[i + 2] * ldw;
        const W* w3 = w + rows[i + 3] * ldw;
        const int64_t n = i + 8 <= nrows ? i + 4 : (nrows - 4 > i ? nrows - 4 : i);
        const char* p0 = reinterpret_cast<const char*>(w + rows[n] * ldw);
        const char* p1 = reinterpret_cast<const char*>(w + rows[n + 1] * ldw);
        const char* p2 = reinterpret_cast<const char*>(w + rows[n + 2] * ldw);
        const char* p3 = reinterpret_cast<const char*>(w + rows[n + 3] * ldw);
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 8 <= k; j += 8) {
            if (kPrefetch && j % (64 / sizeof(W)) == 0) {  // one prefetch per row and line
                _mm_prefetch(p0 + sizeof(W) * j, _MM_HINT_T0);
                _mm_prefetch(p1 + sizeof(W) * j, _MM_HINT_T0);
                _mm_prefetch(p2 + sizeof(W) * j, _MM_HINT_T0);
                _mm_prefetch(p3 + sizeof(W) * j, _MM_HINT_T0);
            }
            const __m256 xv = _mm256_loadu_ps(x + j);
            a0 = _mm256_fmadd_ps(load_w8(w0 + j), xv, a0);
            a1 = _mm256_fmadd_ps(load_w8(w1 + j), xv, a1);
            a2 = _mm256_fmadd_ps(load_w8(w2 + j), xv, a2);
            a3 = _mm256_fmadd_ps(load_w8(w3 + j), xv, a3);
        }
        float s[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
        // Scalar tail with explicit fma: both weight types round alike (left to itself the
        // compiler may contract one instantiation and not the other).
        for (; j < k; ++j) {
            s[0] = std::fma(widen(w0[j]), x[j], s[0]);
            s[1] = std::fma(widen(w1[j]), x[j], s[1]);
            s[2] = std::fma(widen(w2[j]), x[j], s[2]);
            s[3] = std::fma(widen(w3[j]), x[j], s[3]);
        }
        for (int r = 0; r < 4; ++r) {
            const int32_t row = rows[i + r];
            out[row] = bias ? s[r] + bias[row] : s[r];
        }
    }
    for (; i < nrows; ++i) {
        const int32_t row = rows[i];
        const W* wr = w + row * ldw;
        __m256 a0 = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 8 <= k; j += 8)
            a0 = _mm256_fmadd_ps(load_w8(wr + j), _mm256_loadu_ps(x + j), a0);
        float s = hsum(a0);
        for (; j < k; ++j) s = std::fma(widen(wr[j]), x[j], s);
        out[row] = bias ? s + bias[row] : s;
    }
}

template <typename W>
void gemv_rows_any(const W* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
                   int64_t nrows, const float* bias, float* out) {
    if (k < kNoPrefetchRowLength)
        gemv_rows_impl<true>(w, ldw, k, x, rows, nrows, bias, out);
    else
        gemv_rows_impl<false>(w, ldw, k, x, rows, nrows, bias, out);
}

}  // namespace

void gemv_rows(const float* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
               int64_t nrows, const float* bias, float* out) {
    gemv_rows_any(w, ldw, k, x, rows, nrows, bias, out);
}

void gemv_rows_f16(const uint16_t* w, int64_t ldw, int64_t k, const float* x,
                   const int32_t* rows, int64_t nrows, const float* bias, float* out) {
    gemv_rows_any(w, ldw, k, x, rows, nrows, bias, out);
}

}  // namespace ccinfer::kernels::avx2
