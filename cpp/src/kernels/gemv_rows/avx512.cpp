// AVX-512 gemv over a row list: four rows at a time share each load of x; the tail of each
// row is a masked load, so no scalar loop runs. The row list is known ahead, so while one
// block of rows is multiplied the next block's rows are prefetched (software prefetch: the
// hardware stream prefetcher restarts at every jump to a new row).
#include <immintrin.h>

#include "../weights_avx512.h"
#include "gemv_rows.h"

namespace ccinfer::kernels::avx512 {
namespace {

// Rows at least this long (floats) are left to the hardware prefetcher: it follows a long
// row on its own, and the extra prefetch instructions cost more than they save (4096x4096
// from DRAM on Zen 4: 1.49 ms without, 1.7-1.8 ms with software prefetch; 1024x1024 from L3:
// 48 us without, 45 us with).
constexpr int64_t kNoPrefetchRowLength = 2048;

template <bool kPrefetch, typename W>
void gemv_rows_impl(const W* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
                    int64_t nrows, const float* bias, float* out) {
    const int64_t k16 = k & ~int64_t{15};
    const __mmask16 tail = static_cast<__mmask16>((1u << (k - k16)) - 1u);
    int64_t i = 0;
    for (; i + 4 <= nrows; i += 4) {
        const W* w0 = w + rows[i] * ldw;
        const W* w1 = w + rows[i + 1] * ldw;
        const W* w2 = w + rows[i + 2] * ldw;
        const W* w3 = w + rows[i + 3] * ldw;
        // Rows of the next block (this block's again at the end: prefetching them is harmless).
        const int64_t n = i + 8 <= nrows ? i + 4 : (nrows - 4 > i ? nrows - 4 : i);
        const char* p0 = reinterpret_cast<const char*>(w + rows[n] * ldw);
        const char* p1 = reinterpret_cast<const char*>(w + rows[n + 1] * ldw);
        const char* p2 = reinterpret_cast<const char*>(w + rows[n + 2] * ldw);
        const char* p3 = reinterpret_cast<const char*>(w + rows[n + 3] * ldw);
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (int64_t j = 0; j < k16; j += 16) {
            if (kPrefetch && j % (64 / sizeof(W)) == 0) {  // one per row and line
                _mm_prefetch(p0 + sizeof(W) * j, _MM_HINT_T0);
                _mm_prefetch(p1 + sizeof(W) * j, _MM_HINT_T0);
                _mm_prefetch(p2 + sizeof(W) * j, _MM_HINT_T0);
                _mm_prefetch(p3 + sizeof(W) * j, _MM_HINT_T0);
            }
            const __m512 xv = _mm512_loadu_ps(x + j);
            a0 = _mm512_fmadd_ps(load_w16(w0 + j), xv, a0);
            a1 = _mm512_fmadd_ps(load_w16(w1 + j), xv, a1);
            a2 = _mm512_fmadd_ps(load_w16(w2 + j), xv, a2);
            a3 = _mm512_fmadd_ps(load_w16(w3 + j), xv, a3);
        }
        if (tail) {
            if (kPrefetch) {
                _mm_prefetch(p0 + sizeof(W) * k16, _MM_HINT_T0);
                _mm_prefetch(p1 + sizeof(W) * k16, _MM_HINT_T0);
                _mm_prefetch(p2 + sizeof(W) * k16, _MM_HINT_T0);
                _mm_prefetch(p3 + sizeof(W) * k16, _MM_HINT_T0);
            }
            const __m512 xv = _mm512_maskz_loadu_ps(tail, x + k16);
            a0 = _mm512_fmadd_ps(load_w16(tail, w0 + k16), xv, a0);
            a1 = _mm512_fmadd_ps(load_w16(tail, w1 + k16), xv, a1);
            a2 = _mm512_fmadd_ps(load_w16(tail, w2 + k16), xv, a2);
            a3 = _mm512_fmadd_ps(load_w16(tail, w3 + k16), xv, a3);
        }
        const float s[4] = {_mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1),
                            _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a3)};
        for (int r = 0; r < 4; ++r) {
            const int32_t row = rows[i + r];
            out[row] = bias ? s[r] + bias[row] : s[r];
        }
    }
    for (; i < nrows; ++i) {
        const int32_t row = rows[i];
        const W* wr = w + row * ldw;
        __m512 a0 = _mm512_setzero_ps();
        for (int64_t j = 0; j < k16; j += 16)
            a0 = _mm512_fmadd_ps(load_w16(wr + j), _mm512_loadu_ps(x + j), a0);
        if (tail)
            a0 = _mm512_fmadd_ps(load_w16(tail, wr + k16),
                                 _mm512_maskz_loadu_ps(tail, x + k16), a0);
        const float s = _mm512_reduce_add_ps(a0);
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

}  // namespace ccinfer::kernels::avx512
