#pragma once
/// Thread counts for ccinfer's OpenMP pool and for OpenBLAS.
///
/// Both pools are set together so a conditional kernel and its dense baseline run at the same
/// thread count, and so the two never oversubscribe the cores: ccinfer never calls BLAS from
/// inside an OpenMP region.

#include <cstdint>

namespace ccinfer {

/// Sets the thread count of ccinfer's kernels and of OpenBLAS. 1 <= n <= max_num_threads(),
/// else std::invalid_argument (n is a 64-bit count so a huge request is refused, not
/// truncated).
void set_num_threads(int64_t n);

/// The largest thread count set_num_threads accepts: 4 x the processors OpenMP may use
/// (omp_get_num_procs), at least 64. Every kernel splits its work evenly among the threads, so
/// beyond a few threads per processor each one only adds fork/join and time-slice waits;
/// unbounded, a request for 40,000 threads failed thread creation in libgomp (exit 1) and
/// 100,000 overflowed the stack of GOMP_parallel (SIGSEGV). The floor of 64 keeps
/// oversubscription experiments possible on small machines.
int max_num_threads();

/// The thread count ccinfer's kernels use.
int get_num_threads();

/// Threads to use for `work` units of roughly equal cost (for example multiply-adds): one
/// thread below kMinWorkPerThread per thread, so a tiny product never pays a fork and join.
int threads_for_work(int64_t work);

/// Thread slices of a layer's outputs start on multiples of this many outputs: a multiple of
/// every kernel's tile and of the estimator's 64-row panels, so each output is computed the
/// same way for any thread count.
constexpr int64_t kSliceAlign = 64;

/// Start of thread ith's slice of n outputs split among nth threads, on a multiple of
/// kSliceAlign (n for ith >= nth): thread ith owns [start(ith), start(ith + 1)).
inline int64_t aligned_slice_start(int64_t n, int ith, int nth) {
    if (ith >= nth) return n;
    const int64_t c = n * ith / nth;
    const int64_t aligned = (c + kSliceAlign - 1) / kSliceAlign * kSliceAlign;
    return aligned < n ? aligned : n;
}

/// Work (multiply-adds) below which adding a thread costs more than it saves. Measured on
/// Zen 4: an OpenMP fork/join costs about 2-5 us, the time of ~30k multiply-adds streamed
/// from L2.
constexpr int64_t kMinWorkPerThread = 32 * 1024;

}  // namespace ccinfer
