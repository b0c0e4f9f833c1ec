#pragma once
/// How the weights of one small GEMM call (kernels' panel_gemm, in the GRU batch step) reach
/// the core, so the kernel can fetch the next ones while it computes.

#include <cstdint>

namespace ccinfer {

/// Weights of one or two megabytes and more do not stay in a core's L2 from one call or step
/// to the next (1 MiB per core on Skylake-SP and Zen 4, 512 KiB on Zen 3).
constexpr int64_t kStreamedWeightBytes = int64_t{1} << 20;

/// Whether weights of `bytes` in all, read in panels of 32 rows of `row_bytes` against inputs
/// of `input_bytes`, are worth streaming: too big to stay in L2, while two panels and the
/// inputs fit in half of it, so a prefetched panel does not evict the one being computed or
/// its inputs. (Streaming every product of 1 MiB and more made block_gated_gemm with k = 4096
/// at batch 64, 1 MiB of inputs, up to 25% slower, and the blocks of 64 rows 15% slower in the
/// full benchmark made when that op still streamed; only the GRU batch step does,
/// where it was measured.)
inline bool worth_streaming(int64_t bytes, int64_t row_bytes, int64_t input_bytes) {
    return bytes >= kStreamedWeightBytes &&
           2 * 32 * row_bytes + input_bytes <= kStreamedWeightBytes / 2;
}

/// Default: the weights are expected in cache and nothing is prefetched. `streamed`: they
/// come from L3 or memory, so the AVX-512 kernel prefetches each 32-row panel's successor
/// into L2 while it computes the panel, and during its last panel the first `next_bytes`
/// bytes at `next` (the weights of the caller's next call; null: none), at most a panel's
/// worth (the next call prefetches the rest as it goes). A single core fetches at
/// about 8-10 GB/s on the machines measured, so a panel read only when its turn comes stalls
/// the kernel for that fetch; streamed, the fetch overlaps the previous panel's work
/// (docs/performance/batch64.md: without it the conditional batch step is 18% slower). The AVX2 and
/// scalar kernels ignore it. Never changes a result.
struct WeightStream {
    bool streamed = false;
    const void* next = nullptr;
    int64_t next_bytes = 0;
};

}  // namespace ccinfer
