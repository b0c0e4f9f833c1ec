#pragma once
/// Thread counts for ccinfer's OpenMP pool and for OpenBLAS.
///
/// Both pools are set together so a conditional kernel and its dense baseline run at the same
/// thread count, and so the two never oversubscribe the cores: ccinfer never calls BLAS from
/// inside an OpenMP region.

#include <cstdint>

namespace ccinfer {

/// Sets the thread count of ccinfer's kernels and of OpenBLAS. n >= 1, else
/// std::invalid_argument.
void set_num_threads(int n);

/// The thread count ccinfer's kernels use.
int get_num_threads();

/// Threads to use for `work` units of roughly equal cost (for example multiply-adds): one
/// thread below kMinWorkPerThread per thread, so a tiny product never pays a fork and join.
int threads_for_work(int64_t work);

/// Work (multiply-adds) below which adding a thread costs more than it saves. Measured on
/// Zen 4: an OpenMP fork/join costs about 2-5 us, the time of ~30k multiply-adds streamed
/// from L2.
constexpr int64_t kMinWorkPerThread = 32 * 1024;

}  // namespace ccinfer
