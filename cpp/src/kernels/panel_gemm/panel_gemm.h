#pragma once
// The panel GEMM kernels over weights packed by ccinfer/panel_gemm.h (kPanelRows, layout).
#include "../table.h"
#include "ccinfer/panel_gemm.h"

namespace ccinfer::kernels {
using ccinfer::kPanelRows;
using ccinfer::packed_panels_size;
}  // namespace ccinfer::kernels

// y[s * ldy + r] = sum_j x[s * ldx + j] * W[r, j] for r < nrows, s = samples[i] (i when
// samples is null), i < nsamples, over W packed by pack_panels (panels: its first panel).
// Each sum runs over j in order with one fused multiply-add per term, so every ISA gives the
// same bits. `stream` (ccinfer/weight_stream.h): the AVX-512 kernel prefetches the next
// panel (after the last, stream.next) while computing one.
CCINFER_DECLARE_FOR_ALL_ISAS(void panel_gemm(const float* panels, int64_t nrows, int64_t k,
                                             const float* x, int64_t ldx, const int32_t* samples,
                                             int64_t nsamples, float* y, int64_t ldy,
                                             WeightStream stream))
CCINFER_DECLARE_FOR_ALL_ISAS(void panel_gemm_f16(const uint16_t* panels, int64_t nrows,
                                                 int64_t k, const float* x, int64_t ldx,
                                                 const int32_t* samples, int64_t nsamples,
                                                 float* y, int64_t ldy, WeightStream stream))
