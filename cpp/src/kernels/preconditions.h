#pragma once
// The preconditions of the kernels (their contracts in table.h) as predicates for
// CCINFER_DCHECK. The ops and models establish them before calling a kernel, so they are
// checked only in a build with the CCINFER_DCHECK option; a kernel never validates a
// caller's input.
#include <cstdint>

#include "ccinfer/check.h"

namespace ccinfer::kernels {

/// Every index[0:n] is in [0, bound).
inline bool indices_in_range(const int32_t* index, int64_t n, int64_t bound) {
    for (int64_t i = 0; i < n; ++i)
        if (index[i] < 0 || index[i] >= bound) return false;
    return true;
}

/// rows[0:n] is strictly increasing and in [0, bound).
inline bool rows_increasing(const int32_t* rows, int64_t n, int64_t bound) {
    for (int64_t i = 0; i < n; ++i)
        if (rows[i] < 0 || rows[i] >= bound || (i > 0 && rows[i] <= rows[i - 1])) return false;
    return true;
}

/// The largest index a row list may hold when the kernel is not told the row count.
constexpr int64_t kAnyIndex = INT32_MAX;

}  // namespace ccinfer::kernels
