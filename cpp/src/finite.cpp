#include "ccinfer/finite.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "ccinfer/check.h"

namespace ccinfer {

int64_t first_non_finite(const float* x, int64_t n) {
    // Chunks keep the found case cheap to locate; inside one, an OR of exponent-all-ones
    // tests (integer compares, so the loop vectorises without any fast-math licence).
    constexpr int64_t kChunk = 1024;
    for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
        const int64_t i1 = std::min(n, i0 + kChunk);
        uint32_t bad = 0;
        for (int64_t i = i0; i < i1; ++i) {
            uint32_t bits;
            std::memcpy(&bits, x + i, sizeof bits);
            bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
        }
        if (bad)
            for (int64_t i = i0; i < i1; ++i)
                if (!std::isfinite(x[i])) return i;
    }
    return -1;
}

void check_finite(const char* fn, const char* name, const float* x, int64_t n, int64_t row_width) {
    const int64_t i = first_non_finite(x, n);
    if (i < 0) return;
    const std::string where =
        row_width > 0 ? str("[", i / row_width, ", ", i % row_width, "]") : str("[", i, "]");
    const char* value = std::isnan(x[i]) ? "nan" : (x[i] > 0 ? "inf" : "-inf");
    throw std::invalid_argument(str(fn, ": ", name, where, " is ", value,
                                    "; inputs must be finite (a NaN or an infinity has no "
                                    "meaningful conditional answer)"));
}

}  // namespace ccinfer
