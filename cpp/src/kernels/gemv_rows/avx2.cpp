// AVX2+FMA gemv over a row list: four rows at a time share each load of x. A row's sum is the
// same sequence whether it is computed in a block of four or alone (two accumulators over
// alternate 8-wide steps, added, horizontal sum, tails), so the result never depends on how
// rows are split between threads. The next block's rows are prefetched while one block is
// multiplied.
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

// One row's sum: two accumulators over alternate 8-wide steps (two FMA chains per row: with
// four rows in flight that is eight, enough to cover the FMA latency), added, then the 8-wide
// and scalar tails. Every caller goes through this sequence, so a row's result is the same in
// a block of four or alone.
template <typename W>
inline float row_tail(__m256 even, __m256 odd, const W* wr, const float* x, int64_t j,
                      int64_t k) {
    __m256 acc = _mm256_add_ps(even, odd);
    if (j + 8 <= k) {
        acc = _mm256_fmadd_ps(load_w8(wr + j), _mm256_loadu_ps(x + j), acc);
        j += 8;
    }
    float s = hsum(acc);
    // Scalar tail with explicit fma: both weight types round alike (left to itself the
    // compiler may contract one instantiation and not the other).
    for (; j < k; ++j) s = std::fma(widen(wr[j]), x[j], s);
    return s;
}

template <bool kPrefetch, typename W>
void gemv_rows_impl(const W* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
                    int64_t nrows, const float* bias, float* out) {
    const int64_t k16 = k & ~int64_t{15};
    int64_t i = 0;
    for (; i + 4 <= nrows; i += 4) {
        const W* wr[4];
        const char* pf[4];
        const int64_t n = i + 8 <= nrows ? i + 4 : (nrows - 4 > i ? nrows - 4 : i);
        for (int r = 0; r < 4; ++r) {
            wr[r] = w + rows[i + r] * ldw;
            pf[r] = reinterpret_cast<const char*>(w + rows[n + r] * ldw);
        }
        __m256 e[4], o[4];
        for (int r = 0; r < 4; ++r) e[r] = o[r] = _mm256_setzero_ps();
        for (int64_t j = 0; j < k16; j += 16) {
            if (kPrefetch && j % (64 / sizeof(W)) == 0)  // one prefetch per row and line
                for (int r = 0; r < 4; ++r) _mm_prefetch(pf[r] + sizeof(W) * j, _MM_HINT_T0);
            const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
            for (int r = 0; r < 4; ++r) {
                e[r] = _mm256_fmadd_ps(load_w8(wr[r] + j), x0, e[r]);
                o[r] = _mm256_fmadd_ps(load_w8(wr[r] + j + 8), x1, o[r]);
            }
        }
        for (int r = 0; r < 4; ++r) {
            const int32_t row = rows[i + r];
            const float s = row_tail(e[r], o[r], wr[r], x, k16, k);
            out[row] = bias ? s + bias[row] : s;
        }
    }
    for (; i < nrows; ++i) {
        const int32_t row = rows[i];
        const W* wr = w + row * ldw;
        __m256 e = _mm256_setzero_ps(), o = _mm256_setzero_ps();
        for (int64_t j = 0; j < k16; j += 16) {
            e = _mm256_fmadd_ps(load_w8(wr + j), _mm256_loadu_ps(x + j), e);
            o = _mm256_fmadd_ps(load_w8(wr + j + 8), _mm256_loadu_ps(x + j + 8), o);
        }
        const float s = row_tail(e, o, wr, x, k16, k);
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
