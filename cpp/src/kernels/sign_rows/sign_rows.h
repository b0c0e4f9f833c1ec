#pragma once
#include "../table.h"

namespace ccinfer::kernels {

/// Width of one panel of the estimator's A: A (m, r) is stored as ceil(m / kSignPanel) panels,
/// panel p holding A[p*kSignPanel + l, j] at [(p*r + j)*kSignPanel + l], zero past row m;
/// bias is zero-padded to the same length. One panel's accumulators fit in registers
/// (4 zmm, 8 ymm), and each panel is one contiguous stream.
constexpr int64_t kSignPanel = 64;

}  // namespace ccinfer::kernels

CCINFER_DECLARE_FOR_ALL_ISAS(int64_t sign_rows(const float* a_panels, const float* bias, int64_t m,
                                               int64_t r, const float* u, float tau,
                                               int32_t* rows_out))
CCINFER_DECLARE_FOR_ALL_ISAS(void sign_mask(const float* a_panels, const float* bias, int64_t m,
                                            int64_t r, const float* u, float tau, uint8_t* mask))
