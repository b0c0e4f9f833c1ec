#pragma once
/// Sizes computed from caller input (batch sizes, widths, sequence lengths): one checked
/// multiply and one bound on what a single allocation may ask for, used by every buffer the
/// core sizes (AlignedBuffer checks again as the last line). A product that wraps would
/// allocate a small buffer and then write past it; a request larger than the machine's memory
/// would fail later and less clearly (std::bad_alloc, or the OOM killer). Both are
/// std::invalid_argument (ValueError in Python) naming the size in bytes.

#include <cstddef>
#include <cstdint>
#include <string>

namespace ccinfer {

/// a * b for sizes: std::invalid_argument naming `what` if either is negative or the product
/// does not fit in int64.
int64_t checked_mul(int64_t a, int64_t b, const char* what);

/// Bytes of physical memory (sysconf); 2^47 where the system does not say.
uint64_t physical_memory_bytes();

/// Throws std::invalid_argument("<what>: needs <count * elem_size> bytes, more than ...") if
/// count * elem_size overflows or exceeds physical_memory_bytes(): no single buffer of a
/// machine can be larger than its memory. `what` names the caller and the buffer.
void check_alloc(const std::string& what, int64_t count, size_t elem_size);

/// The same for a product of two counts (count_a * count_b elements).
void check_alloc(const std::string& what, int64_t count_a, int64_t count_b, size_t elem_size);

}  // namespace ccinfer
