#include "ccinfer/cond_gemv_batch.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/cond_gemv.h"
#include "ccinfer/threads.h"

namespace ccinfer {
namespace {

// The samples that need each row, as a bit set of n bits per row (`words` 64-bit words), so
// each thread can list its rows' samples without a transposed copy of the mask.
struct RowSamples {
    std::vector<uint64_t> bits;
    int64_t words = 0;
};

// Rows [r0, r1) of the bit sets from a (n, m) byte mask; branch-free, vectorizes over rows.
void fill_bits_from_mask(const uint8_t* mask, int64_t n, int64_t m, int64_t r0, int64_t r1,
                         RowSamples& rs) {
    const int64_t words = rs.words;
    uint64_t* bits = rs.bits.data();
    std::fill(bits + r0 * words, bits + r1 * words, uint64_t{0});
    for (int64_t s = 0; s < n; ++s) {
        const uint8_t* ms = mask + s * m;
        uint64_t* b = bits + (s >> 6);
        const int shift = static_cast<int>(s & 63);
        for (int64_t i = r0; i < r1; ++i) b[i * words] |= uint64_t{ms[i] != 0} << shift;
    }
}

// Computes rows [r0, r1) for the samples set in rs, with `samples` room for n indices.
template <typename W>
void rows_for_samples(const W* w, int64_t k, const float* x, const RowSamples& rs, int64_t r0,
                      int64_t r1, const float* bias, float* out, int64_t m, int32_t* samples) {
    const auto gemv_samples = kernels::gemv_samples_for(kernels::active(), w);
    const int64_t row_bytes = k * static_cast<int64_t>(sizeof(W));
    for (int64_t i = r0; i < r1; ++i) {
        // The next row is known: start fetching it (rows jump, the hardware prefetcher
        // restarts at each one).
        if (i + 1 < r1) {
            const char* next = reinterpret_cast<const char*>(w + (i + 1) * k);
            for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(next + b);
        }
        int64_t ns = 0;
        const uint64_t* b = rs.bits.data() + i * rs.words;
        for (int64_t wd = 0; wd < rs.words; ++wd)
            for (uint64_t word = b[wd]; word; word &= word - 1)
                samples[ns++] = static_cast<int32_t>(wd * 64 + __builtin_ctzll(word));
        if (ns)
            gemv_samples(w + i * k, k, x, k, samples, ns, bias ? bias + i : nullptr, out + i, m);
    }
}

// High pair density: every (sample, row) product with the dense block GEMM kernel (the
// register-tiled kernel of block_gated_gemm) into a scratch, then keep the active entries.
// Not OpenBLAS: its sgemm changes its sum order with its thread count, and results here must
// not. Thread slices of rows start on multiples of 64, so every row meets the kernel's tiles
// the same way for any thread count.
constexpr int64_t kRowAlign = 64;

template <typename W, typename IsActive>
void batch_dense(const W* w, int64_t m, int64_t k, const float* x, int64_t n, const float* bias,
                 float* out, IsActive is_active) {
    thread_local std::vector<float> scratch;  // reused: no page faults per call
    if (scratch.size() < static_cast<size_t>(n * m)) scratch.resize(static_cast<size_t>(n * m));
    float* y = scratch.data();
    const auto block_gemm = kernels::block_gemm_for(kernels::active(), w);
    const int nth = static_cast<int>(
        std::min<int64_t>(threads_for_work(n * m * k), (m + kRowAlign - 1) / kRowAlign));
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int ith = omp_get_thread_num();
        const auto start = [&](int t) {
            return std::min(m, (m * t / nth + kRowAlign - 1) / kRowAlign * kRowAlign);
        };
        const int64_t r0 = start(ith), r1 = ith + 1 == nth ? m : start(ith + 1);
        if (r1 > r0) {
            block_gemm(w + r0 * k, k, r1 - r0, k, x, k, nullptr, n, y + r0, m);
            for (int64_t s = 0; s < n; ++s) {
                float* o = out + s * m;
                const float* ys = y + s * m;
                if (bias)
                    for (int64_t i = r0; i < r1; ++i)
                        o[i] = is_active(s, i) ? ys[i] + bias[i] : o[i];
                else
                    for (int64_t i = r0; i < r1; ++i) o[i] = is_active(s, i) ? ys[i] : o[i];
            }
        }
    }
}

bool batch_uses_dense(int64_t nnz, int64_t n, int64_t m) {
    return nnz > 0 &&
           static_cast<double>(nnz) >= kCondGemvBatchDenseDensity * static_cast<double>(n * m);
}

void check_dims(int64_t m, int64_t k, int64_t n) {
    CCINFER_CHECK(m >= 0 && k >= 0 && n >= 0, "cond_gemv_batch: need m >= 0, k >= 0, n >= 0");
}

}  // namespace

void check_csr_rows(const char* func, const int32_t* indptr, int64_t n, const int32_t* indices,
                    int64_t nnz, int64_t m) {
    CCINFER_CHECK(indptr[0] == 0, func, ": indptr[0] must be 0, got ", indptr[0]);
    CCINFER_CHECK(indptr[n] == nnz, func, ": indptr[n] must equal len(indices) = ", nnz, ", got ",
                  indptr[n]);
    for (int64_t s = 0; s < n; ++s) {
        CCINFER_CHECK(indptr[s + 1] >= indptr[s], func,
                      ": indptr must be non-decreasing, got indptr[", s, "] = ", indptr[s],
                      ", indptr[", s + 1, "] = ", indptr[s + 1]);
        try {
            check_rows(func, indices + indptr[s], indptr[s + 1] - indptr[s], m);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(str(e.what(), " (rows of sample ", s, ")"));
        }
    }
}

namespace {

template <typename W>
void cond_gemv_batch_any(const W* w, int64_t m, int64_t k, const float* x, int64_t n,
                         const uint8_t* mask, const float* bias, float* out) {
    check_dims(m, k, n);
    if (m == 0 || n == 0) return;
    int64_t nnz = 0;
    for (int64_t e = 0; e < n * m; ++e) nnz += mask[e] != 0;
    if (batch_uses_dense(nnz, n, m) && k > 0) {
        batch_dense(w, m, k, x, n, bias, out,
                    [&](int64_t s, int64_t i) { return mask[s * m + i] != 0; });
        return;
    }
    RowSamples rs;
    rs.words = (n + 63) / 64;
    rs.bits.resize(static_cast<size_t>(m * rs.words));
    const int nth = std::min<int64_t>(threads_for_work(nnz * k + n * m), m);
    std::vector<int32_t> samples(static_cast<size_t>(nth * n));
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        // Static share of the rows of W per thread; every output is computed by one thread
        // with the same kernel, so the result does not depend on the thread count.
        const int ith = omp_get_thread_num();
        const int64_t r0 = m * ith / nth, r1 = m * (ith + 1) / nth;
        fill_bits_from_mask(mask, n, m, r0, r1, rs);
        rows_for_samples(w, k, x, rs, r0, r1, bias, out, m, samples.data() + ith * n);
    }
}

}  // namespace

void cond_gemv_batch(const float* w, int64_t m, int64_t k, const float* x, int64_t n,
                     const uint8_t* mask, const float* bias, float* out) {
    cond_gemv_batch_any(w, m, k, x, n, mask, bias, out);
}

void cond_gemv_batch(const uint16_t* w, int64_t m, int64_t k, const float* x, int64_t n,
                     const uint8_t* mask, const float* bias, float* out) {
    cond_gemv_batch_any(w, m, k, x, n, mask, bias, out);
}

void cond_gemv_batch_csr(const float* w, int64_t m, int64_t k, const float* x, int64_t n,
                         const int32_t* indptr, const int32_t* indices, const float* bias,
                         float* out) {
    check_dims(m, k, n);
    const int64_t nnz = indptr[n];
    check_csr_rows("cond_gemv_batch", indptr, n, indices, nnz, m);
    if (m == 0 || n == 0) return;
    if (batch_uses_dense(nnz, n, m) && k > 0) {
        std::vector<uint8_t> mask(static_cast<size_t>(n * m), 0);
        for (int64_t s = 0; s < n; ++s)
            for (int64_t t = indptr[s]; t < indptr[s + 1]; ++t) mask[s * m + indices[t]] = 1;
        batch_dense(w, m, k, x, n, bias, out,
                    [&](int64_t s, int64_t i) { return mask[s * m + i] != 0; });
        return;
    }
    RowSamples rs;
    rs.words = (n + 63) / 64;
    rs.bits.assign(static_cast<size_t>(m * rs.words), 0);
    for (int64_t s = 0; s < n; ++s)
        for (int64_t t = indptr[s]; t < indptr[s + 1]; ++t)
            rs.bits[indices[t] * rs.words + (s >> 6)] |= uint64_t{1} << (s & 63);
    const int nth = std::min<int64_t>(threads_for_work(nnz * k), m);
    std::vector<int32_t> samples(static_cast<size_t>(nth * n));
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        const int ith = omp_get_thread_num();
        const int64_t r0 = m * ith / nth, r1 = m * (ith + 1) / nth;
        rows_for_samples(w, k, x, rs, r0, r1, bias, out, m, samples.data() + ith * n);
    }
}

}  // namespace ccinfer
