#include "ccinfer/sign_estimator.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../kernels/sign_rows/sign_rows.h"
#include "../kernels/table.h"
#include "ccinfer/check.h"
#include "ccinfer/threads.h"

namespace ccinfer {

using kernels::kSignPanel;

SignEstimator::SignEstimator(const float* a, const float* b, const float* bias, int64_t m,
                             int64_t r, int64_t k, float tau)
    : m_(m), r_(r), k_(k), tau_(tau) {
    CCINFER_CHECK(m >= 1 && r >= 1 && k >= 1, "SignEstimator: need m, r, k >= 1, got m = ", m,
                  ", r = ", r, ", k = ", k);
    const int64_t padded = (m + kSignPanel - 1) / kSignPanel * kSignPanel;
    a_panels_ = AlignedBuffer<float>(static_cast<size_t>(padded * r));
    b_ = AlignedBuffer<float>(b, static_cast<size_t>(r * k));
    bias_ = AlignedBuffer<float>(static_cast<size_t>(padded));
    std::fill_n(a_panels_.data(), padded * r, 0.0f);  // rows past m score 0 and are masked
    std::fill_n(bias_.data(), padded, 0.0f);
    for (int64_t i = 0; i < m; ++i) {
        const int64_t p0 = i / kSignPanel * kSignPanel, lane = i - p0;
        for (int64_t j = 0; j < r; ++j) a_panels_[(p0 * r + j * kSignPanel) + lane] = a[i * r + j];
    }
    if (bias) std::copy_n(bias, m, bias_.data());
}

static_assert(SignEstimator::kPanelRows == kSignPanel, "panel size of the public API");

void SignEstimator::project(const float* x, int64_t j_begin, int64_t j_end, float* u) const {
    if (j_end <= j_begin) return;
    // Row j of B is one dot product whatever its tile neighbours (block_gemm.h), so splitting
    // the rows of B does not change u.
    kernels::active().block_gemm(b_.data() + j_begin * k_, k_, j_end - j_begin, k_, x, k_, nullptr,
                                 1, u + j_begin, r_);
}

int64_t SignEstimator::predict_panels(const float* u, int64_t p_begin, int64_t p_end,
                                      int32_t* rows_out) const {
    const int64_t row0 = p_begin * kSignPanel;
    const int64_t rows = std::min(m_, p_end * kSignPanel) - row0;
    if (rows <= 0) return 0;
    const int64_t count = kernels::active().sign_rows(
        a_panels_.data() + row0 * r_, bias_.data() + row0, rows, r_, u, tau_, rows_out);
    if (row0 > 0)  // the first panels (a one-thread pass) need no offset
        for (int64_t i = 0; i < count; ++i) rows_out[i] += static_cast<int32_t>(row0);
    return count;
}

int64_t SignEstimator::predict(const float* x, int32_t* rows_out, float* scratch) const {
    const kernels::KernelTable& kt = kernels::active();
    kt.block_gemm(b_.data(), k_, r_, k_, x, k_, nullptr, 1, scratch, r_);  // u = B x
    return kt.sign_rows(a_panels_.data(), bias_.data(), m_, r_, scratch, tau_, rows_out);
}

void SignEstimator::predict_mask(const float* x, uint8_t* mask, float* scratch) const {
    const kernels::KernelTable& kt = kernels::active();
    kt.block_gemm(b_.data(), k_, r_, k_, x, k_, nullptr, 1, scratch, r_);
    kt.sign_mask(a_panels_.data(), bias_.data(), m_, r_, scratch, tau_, mask);
}

void SignEstimator::predict_batch(const float* x, int64_t n, uint8_t* mask, float* scratch) const {
    if (n <= 0) return;
    const kernels::KernelTable& kt = kernels::active();
    // Samples [begin, end): U = X B^T for them with the register-blocked kernel, then one
    // fused pass over A per sample. Each sample's arithmetic is that of predict_mask.
    auto run = [&](int64_t begin, int64_t end) {
        if (begin >= end) return;
        float* u = scratch + begin * r_;
        kt.block_gemm(b_.data(), k_, r_, k_, x + begin * k_, k_, nullptr, end - begin, u, r_);
        for (int64_t s = begin; s < end; ++s)
            kt.sign_mask(a_panels_.data(), bias_.data(), m_, r_, scratch + s * r_, tau_,
                         mask + s * m_);
    };
    const int nth = static_cast<int>(std::min<int64_t>(threads_for_work(n * r_ * (k_ + m_)), n));
    if (nth <= 1) {
        run(0, n);
        return;
    }
#pragma omp parallel num_threads(nth)
    {
        const int ith = omp_get_thread_num();
        run(n * ith / nth, n * (ith + 1) / nth);
    }
}

void SignEstimator::copy_a(float* a) const {
    for (int64_t i = 0; i < m_; ++i) {
        const int64_t p0 = i / kSignPanel * kSignPanel, lane = i - p0;
        for (int64_t j = 0; j < r_; ++j)
            a[i * r_ + j] = a_panels_[(p0 * r_ + j * kSignPanel) + lane];
    }
}

void SignEstimator::copy_b(float* b) const { std::memcpy(b, b_.data(), sizeof(float) * r_ * k_); }

void SignEstimator::copy_bias(float* bias) const {
    std::memcpy(bias, bias_.data(), sizeof(float) * m_);
}

}  // namespace ccinfer
