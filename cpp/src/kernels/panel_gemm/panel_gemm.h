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
