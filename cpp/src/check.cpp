#include "ccinfer/check.h"

#include <cstdio>
#include <cstdlib>

namespace ccinfer::detail {

void dcheck_failed(const char* condition, const char* file, int line) noexcept {
    std::fprintf(stderr, "ccinfer: internal invariant failed at %s:%d: %s\n", file, line,
                 condition);
    std::abort();
}

}  // namespace ccinfer::detail
