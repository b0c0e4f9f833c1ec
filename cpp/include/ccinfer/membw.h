#pragma once
/// A STREAM-style memory-bandwidth probe, so a DRAM-bound case can be reported as a fraction
/// of what the machine can move (docs/design.md section 4).

#include <cstdint>

namespace ccinfer {

/// Rates of one probe, GB/s (1e9 bytes per second). Bytes are counted as STREAM does: copy
/// reads one array and writes one (2 x bytes_per_array), triad reads two and writes one
/// (3 x bytes_per_array); write-allocate traffic is not counted. Read only reads one array
/// (1 x bytes_per_array): the limit for streaming weights, which are only read.
struct MemoryBandwidth {
    double copy_best = 0;    ///< fastest repeat (STREAM's convention)
    double copy_median = 0;  ///< median repeat
    double triad_best = 0;
    double triad_median = 0;
    double read_best = 0;
    double read_median = 0;
    int threads = 0;  ///< threads used
    int64_t bytes_per_array = 0;
    int repeats = 0;
};

/// Copy `c = a`, triad `a = b + s c` and a read-only sum of b over three float32 arrays of
/// `bytes_per_array` bytes each, `repeats` timed repeats after one untimed one. One OpenMP parallel
/// region with `threads` threads and a static split: each thread first-touches and then streams its
/// own part. The results are checked against the expected values after the last repeat
/// (std::runtime_error if they differ). bytes_per_array >= 4096, threads >= 1, repeats >= 1,
/// else std::invalid_argument. Pick bytes_per_array well above the last-level cache (for
/// example 64 MB against 32 MiB) to measure DRAM.
MemoryBandwidth memory_bandwidth(int64_t bytes_per_array, int threads, int repeats);

}  // namespace ccinfer
