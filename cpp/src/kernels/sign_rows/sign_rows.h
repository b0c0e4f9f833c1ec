#pragma once
#include "../preconditions.h"
#include "../table.h"

namespace ccinfer::kernels {

/// Width of one panel of the estimator's A: A (m, r) is stored as ceil(m / kSignPanel) panels,
/// panel p holding A[p*kSignPanel + l, j] at [(p*r + j)*kSignPanel + l], zero past row m;
/// bias is zero-padded to the same length. One panel's accumulators fit in registers
/// (4 zmm, 8 ymm), and each panel is one contiguous stream.
constexpr int64_t kSignPanel = 64;

}  // namespace ccinfer::kernels

namespace ccinfer::kernels {

/// The scores t = bias + A u of P consecutive panels (P * kSignPanel rows) from `panel`, over
/// a vector layer S: t[p * R + q] holds rows p * kSignPanel + q * kWidth on, R = kSignPanel /
/// kWidth registers a panel, each started from the bias and advanced by one fused
/// multiply-add per step j (the same chain for a row on every ISA). Two panels at once give
/// 2 R independent FMA chains (AVX-512: 8 instead of 4 keep both FMA pipes busy).
template <class S, int P>
inline void sign_panel_scores(const float* panel, const float* bias, int64_t r, const float* u,
                              typename S::V* t) {
    constexpr int kRegs = static_cast<int>(kSignPanel / S::kWidth);
    for (int q = 0; q < P * kRegs; ++q) t[q] = S::load(bias + S::kWidth * q);
    for (int64_t j = 0; j < r; ++j) {
        const typename S::V uj = S::set1(u[j]);
        for (int q = 0; q < kRegs; ++q)
            for (int p = 0; p < P; ++p) {
                const float* a = panel + (p * r + j) * kSignPanel + S::kWidth * q;
                t[p * kRegs + q] = S::fma(uj, S::load(a), t[p * kRegs + q]);
            }
    }
}

}  // namespace ccinfer::kernels
