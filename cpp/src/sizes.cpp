#include "ccinfer/sizes.h"

#include <stdexcept>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace ccinfer {

int64_t checked_mul(int64_t a, int64_t b, const char* what) {
    int64_t out = 0;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out))
        throw std::invalid_argument(std::string(what) + ": size " + std::to_string(a) + " x " +
                                    std::to_string(b) + " is negative or overflows int64");
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
    unsigned __int128 bytes = 0;
    const bool negative = count_a < 0 || count_b < 0;
    if (!negative)
        bytes = static_cast<unsigned __int128>(count_a) * static_cast<unsigned __int128>(count_b) *
                elem_size;
    const uint64_t limit = physical_memory_bytes();
    if (negative || bytes > limit) {
        // Written out exactly, even beyond 64 bits (the caller asked for it).
        std::string digits;
        for (unsigned __int128 v = bytes; digits.empty() || v; v /= 10)
            digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
        throw std::invalid_argument(
            what + (negative ? ": a negative size"
                             : ": needs " + digits + " bytes, more than this machine's " +
                                   std::to_string(limit) + " bytes of physical memory"));
    }
}

}  // namespace ccinfer
