#pragma once
/// Conditional matrix-vector products: compute only the output rows predicted to be active.

#include <cstdint>

namespace ccinfer {

/// out[rows[i]] = W[rows[i], :] . x (+ bias[rows[i]] when bias != nullptr), for i < nrows;
/// every other entry of out is left untouched.
///  - W is (m, k) row-major with row stride ldw >= k; x has k entries; bias and out have m.
///  - rows is strictly increasing with entries in [0, m) (so distinct); nrows may be 0.
///  - out must not alias W, x or bias.
/// Throws std::invalid_argument if rows break that rule. Threads: static split of rows,
/// results identical for every thread count.
void cond_gemv(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
               const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// cond_gemv without the row checks, for callers that produced rows themselves.
void cond_gemv_unchecked(const float* w, int64_t k, int64_t ldw, const float* x,
                         const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// Throws std::invalid_argument naming `func` unless rows is strictly increasing in [0, m).
void check_rows(const char* func, const int32_t* rows, int64_t nrows, int64_t m);

}  // namespace ccinfer
