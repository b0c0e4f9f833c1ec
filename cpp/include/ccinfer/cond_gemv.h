#pragma once
/// Conditional matrix-vector products: compute only the output rows predicted to be active.

#include <cstdint>

namespace ccinfer {

/// Row density (nrows / m) at and above which cond_gemv runs OpenBLAS sgemv over all rows and
/// keeps the requested ones, for weights of at most kCondGemvDenseMaxBytes. Measured on a
/// 2-core AMD EPYC Zen 4 (bench/test_bench_cond_gemv.py, docs/performance/kernels.md): W in L3
/// (1024x1024, 3072x1051) the row kernel reaches 0.93-1.0x of sgemv at density 1 and breaks
/// even with sgemv + scatter at about 0.9-0.95; with W streamed from DRAM (4096x4096) the row
/// kernel is 1.1-1.2x faster than sgemv even at density 1, so there is no switch there.
constexpr double kCondGemvDenseDensity = 0.9;
/// Weights larger than this (the 32 MiB last-level cache of the machine above) never switch.
constexpr int64_t kCondGemvDenseMaxBytes = int64_t{32} << 20;

/// True when cond_gemv would use OpenBLAS for nrows of the m rows of an (m, k) matrix.
bool cond_gemv_uses_dense(int64_t m, int64_t k, int64_t nrows);

/// out[rows[i]] = W[rows[i], :] . x (+ bias[rows[i]] when bias != nullptr), for i < nrows;
/// every other entry of out is left untouched.
///  - W is (m, k) row-major with row stride ldw >= k; x has k entries; bias and out have m.
///  - rows is strictly increasing with entries in [0, m) (so distinct); nrows may be 0.
///  - out must not alias W, x or bias.
/// At a density of at least kCondGemvDenseDensity (and W within kCondGemvDenseMaxBytes) the
/// rows come from one OpenBLAS sgemv over all rows (into a per-thread scratch when some rows
/// are off), so the sum order of those rows is OpenBLAS's.
/// Throws std::invalid_argument if rows break that rule. Threads: static split of rows,
/// results identical for every thread count.
void cond_gemv(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
               const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// cond_gemv for rows that already passed check_rows (the dense switch included).
void cond_gemv_prechecked(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
                          const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// cond_gemv over the rows i with mask[i] != 0 (mask has m bytes: numpy bool or uint8).
void cond_gemv_mask(const float* w, int64_t m, int64_t k, int64_t ldw, const float* x,
                    const uint8_t* mask, const float* bias, float* out);

/// cond_gemv without the row checks and without the dense switch (always the row kernel),
/// for callers that produced rows themselves.
void cond_gemv_unchecked(const float* w, int64_t k, int64_t ldw, const float* x,
                         const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// Throws std::invalid_argument naming `func` unless rows is strictly increasing in [0, m).
void check_rows(const char* func, const int32_t* rows, int64_t nrows, int64_t m);

/// Writes the indices i < m with mask[i] != 0, ascending, to rows_out (room for m) and
/// returns their number.
int64_t mask_to_rows(const uint8_t* mask, int64_t m, int32_t* rows_out);

}  // namespace ccinfer
