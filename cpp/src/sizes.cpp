#include "ccinfer/sizes.h"

#include <stdexcept>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "ccinfer/check.h"

namespace ccinfer {

int64_t checked_mul(int64_t a, int64_t b, const char* what) {
    int64_t out = 0;
    const bool bad = a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out);
    CCINFER_CHECK(!bad, what, ": size ", a, " x ", b, " is negative or overflows int64");
    return out;
}

uint64_t physical_memory_bytes() {
    static const uint64_t bytes = [] {
        uint64_t fallback = uint64_t{1} << 47;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
        const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0)
            return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
#endif
        return fallback;
    }();
    return bytes;
}

void check_alloc(const std::string& what, int64_t count, size_t elem_size) {
    check_alloc(what, count, 1, elem_size);
}

void check_alloc(const std::string& what, int64_t count_a, int64_t count_b, size_t elem_size) {
    CCINFER_CHECK(count_a >= 0 && count_b >= 0, what, ": a negative size");
    const unsigned __int128 bytes = static_cast<unsigned __int128>(count_a) *
                                    static_cast<unsigned __int128>(count_b) * elem_size;
    const uint64_t limit = physical_memory_bytes();
    if (bytes > limit) {
        // Written out exactly, even beyond 64 bits (the caller asked for it).
        std::string digits;
        for (unsigned __int128 v = bytes; digits.empty() || v; v /= 10)
            digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
        throw std::invalid_argument(str(what, ": needs ", digits,
                                        " bytes, more than this machine's ", limit,
                                        " bytes of physical memory"));
    }
}

}  // namespace ccinfer
