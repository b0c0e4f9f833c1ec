// AVX-512 gemv over a row list: four rows at a time share each load of x; the tail of each
// row is a masked load, so no scalar loop runs.
#include <immintrin.h>

#include "gemv_rows.h"

namespace ccinfer::kernels::avx512 {

void gemv_rows(const float* w, int64_t ldw, int64_t k, const float* x, const int32_t* rows,
               int64_t nrows, const float* bias, float* out) {
    const int64_t k16 = k & ~int64_t{15};
    const __mmask16 tail = static_cast<__mmask16>((1u << (k - k16)) - 1u);
    int64_t i = 0;
    for (; i + 4 <= nrows; i += 4) {
        const float* w0 = w + rows[i] * ldw;
        const float* w1 = w + rows[i + 1] * ldw;
        const float* w2 = w + rows[i + 2] * ldw;
        const float* w3 = w + rows[i + 3] * ldw;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (int64_t j = 0; j < k16; j += 16) {
            const __m512 xv = _mm512_loadu_ps(x + j);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + j), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + j), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + j), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + j), xv, a3);
        }
        if (tail) {
            const __m512 xv = _mm512_maskz_loadu_ps(tail, x + k16);
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w0 + k16), xv, a0);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w1 + k16), xv, a1);
            a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w2 + k16), xv, a2);
            a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, w3 + k16), xv, a3);
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
        const float* wr = w + row * ldw;
        __m512 a0 = _mm512_setzero_ps();
        for (int64_t j = 0; j < k16; j += 16)
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wr + j), _mm512_loadu_ps(x + j), a0);
        if (tail)
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, wr + k16),
                                 _mm512_maskz_loadu_ps(tail, x + k16), a0);
        const float s = _mm512_reduce_add_ps(a0);
        out[row] = bias ? s + bias[row] : s;
    }
}

}  // namespace ccinfer::kernels::avx512
