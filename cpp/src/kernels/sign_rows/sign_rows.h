#pragma once
#include "../table.h"

namespace ccinfer::kernels {

/// Width of one panel of the estimator's A: A (m, r) is stored as ceil(m / kSignPanel) panels,
/// panel p holding A[p*kSignPanel + l, j] at [(p*r + j)*kSignPanel + l], zero past row m;
/// bias is zero-padded to the same length. One panel's accumulators fit in registers
/// (4 zmm, 8 ymm), and each panel is one contiguous stream.
constexpr int64_t kSignPanel = 64;

}  // namespace ccinfer::kernels
