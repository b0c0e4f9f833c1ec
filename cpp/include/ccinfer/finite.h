#pragma once
/// The non-finite input policy of every model entry point (CondMLP, TreeGatedLinear,
/// GRUStack vector input, GRUState::set_h): a NaN or an infinity in a float input is
/// std::invalid_argument (ValueError in Python) naming the argument and the first bad index,
/// before anything is computed or changed. The conditional paths cannot propagate NaN as the
/// dense computation would: a NaN gate pre-activation compares false, so rows are skipped and
/// the answer comes out finite and confident. Refusing is the one behaviour both agree on.

#include <cstdint>
#include <string>

namespace ccinfer {

/// Index of the first NaN or infinity in x[0:n], or -1. A branch-free scan of the exponent
/// bits (the compiler vectorises it), a few hundred nanoseconds for a 784-float input.
int64_t first_non_finite(const float* x, int64_t n);

/// Throws std::invalid_argument("<fn>: <name>[i] is nan; ...") if x[0:n] holds a NaN or an
/// infinity. row_width > 0 names a row-major (n / row_width, row_width) array's index as
/// [s, j].
void check_finite(const char* fn, const char* name, const float* x, int64_t n,
                  int64_t row_width = 0);

}  // namespace ccinfer
