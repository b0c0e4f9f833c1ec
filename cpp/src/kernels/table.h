#pragma once
/// The dispatch table: one function pointer per kernel, filled for the active ISA.
///
/// Kernels here are single-threaded primitives over a slice of the work; the operations in
/// cpp/src/ops/ validate arguments once, split the work across threads and call them. Kernels
/// do not allocate, do not throw, and state their preconditions as CCINFER_DCHECKs
/// (preconditions.h), checked only in a build with the CCINFER_DCHECK option.
///
/// Adding a kernel: its pointer type here, one line in kernel_list.h, and a folder
/// kernels/<op>/ with the body written once over the vector layer (<op>.h) and scalar.cpp /
/// avx2.cpp / avx512.cpp defining it per ISA (docs/kernels.md).

#include <cstdint>

#include "ccinfer/cpu.h"
#include "ccinfer/weight_stream.h"
#include "kernel_list.h"

namespace ccinfer::kernels {

/// out[rows[i]] = dot(W[rows[i], 0:k], x) (+ bias[rows[i]] when bias != nullptr),
/// for i in [0, nrows). W row stride ldw. Rows may repeat only if out entries may be
/// overwritten with the same value.
using GemvRowsFn = void (*)(const float* w, int64_t ldw, int64_t k, const float* x,
                            const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// The same over binary16 weights (ccinfer/half.h), widened exactly: the result equals
/// gemv_rows over the float32 values of those weights bit for bit.
using GemvRowsF16Fn = void (*)(const uint16_t* w, int64_t ldw, int64_t k, const float* x,
                               const int32_t* rows, int64_t nrows, const float* bias, float* out);

/// y[s*ldy + r] = dot(x[s*ldx : +k], w[r*ldw : +k]) for r < nrows and s = samples[i]
/// (s = i when samples is null), i < nsamples: a small GEMM Y[S, :] = X[S] W^T over the
/// listed samples (block_gemm/block_gemm.h).
using BlockGemmFn = void (*)(const float* w, int64_t ldw, int64_t nrows, int64_t k, const float* x,
                             int64_t ldx, const int32_t* samples, int64_t nsamples, float* y,
                             int64_t ldy);

/// block_gemm over binary16 weights (bit for bit block_gemm over their float32 values).
using BlockGemmF16Fn = void (*)(const uint16_t* w, int64_t ldw, int64_t nrows, int64_t k,
                                const float* x, int64_t ldx, const int32_t* samples,
                                int64_t nsamples, float* y, int64_t ldy);

/// y[s*ldy + r] = sum_j x[s*ldx + j] W[r, j] for r < nrows, s = samples[i] (i when samples
/// is null), i < nsamples, over W packed in row panels (panel_gemm/panel_gemm.h): the
/// outer-product GEMM of the batch steps. Bit for bit the same on every ISA.
using PanelGemmFn = void (*)(const float* panels, int64_t nrows, int64_t k, const float* x,
                             int64_t ldx, const int32_t* samples, int64_t nsamples, float* y,
                             int64_t ldy, WeightStream stream);
/// panel_gemm over binary16 panels (bit for bit panel_gemm over their float32 values).
using PanelGemmF16Fn = void (*)(const uint16_t* panels, int64_t nrows, int64_t k, const float* x,
                                int64_t ldx, const int32_t* samples, int64_t nsamples, float* y,
                                int64_t ldy, WeightStream stream);
/// The sign estimator's fused step t = A u + bias over A in panels (sign_rows/sign_rows.h):
/// the rows i < m with t_i > tau (or t_i NaN: !(t_i <= tau)), ascending, into rows_out
/// (returns their number), or the 0/1 mask of them.
using SignRowsFn = int64_t (*)(const float* a_panels, const float* bias, int64_t m, int64_t r,
                               const float* u, float tau, int32_t* rows_out);
using SignMaskFn = void (*)(const float* a_panels, const float* bias, int64_t m, int64_t r,
                            const float* u, float tau, uint8_t* mask);

/// out[s*ldo] = dot(wrow[0:k], x[s*ldx : +k]) (+ *bias when bias != nullptr) for s in
/// samples[0:nsamples]: one weight row against the samples that need it
/// (gemv_samples/gemv_samples.h; the batched cond_gemv_batch).
using GemvSamplesFn = void (*)(const float* wrow, int64_t k, const float* x, int64_t ldx,
                               const int32_t* samples, int64_t nsamples, const float* bias,
                               float* out, int64_t ldo);

/// gemv_samples over a binary16 weight row (bit for bit gemv_samples over its float32 values).
using GemvSamplesF16Fn = void (*)(const uint16_t* wrow, int64_t k, const float* x, int64_t ldx,
                                  const int32_t* samples, int64_t nsamples, const float* bias,
                                  float* out, int64_t ldo);

/// out[c] = (bias[c] or 0) + sum_t nz_value[t] * Wt[nz_index[t], c] for c in [c0, c1), the
/// terms added in order of t (sparse_input/sparse_input.h).
using SparseInputColsFn = void (*)(const float* wt, int64_t ldwt, const int32_t* nz_index,
                                   const float* nz_value, int64_t nnz, int64_t c0, int64_t c1,
                                   const float* bias, float* out);
/// The same value for the columns c = rows[i] only (rows strictly increasing, in [0, m)).
using SparseInputRowsFn = void (*)(const float* wt, int64_t ldwt, int64_t m,
                                   const int32_t* nz_index, const float* nz_value, int64_t nnz,
                                   const int32_t* rows, int64_t nrows, const float* bias,
                                   float* out);

/// out[c] = phi((bias[c] or 0) + sum_t nz_value[t] * sum_l table[node_rows[t*path_len + l], c])
/// for c in [c0, c1), phi = relu or identity: the tree-gated layer's path sums
/// (tree_axpy/tree_axpy.h; ccinfer/tree_gated.h).
using TreeAxpyFn = void (*)(const float* table, int64_t ldt, const int32_t* node_rows,
                            int64_t path_len, const float* nz_value, int64_t nnz, int64_t c0,
                            int64_t c1, const float* bias, bool relu, float* out);

/// hn[i] = gru_cond_unit(gx + 2 i, gh + 2 i, z[i], h[i]) (ccinfer/gate_math.h) for
/// i = units[a], a < n, or i = a when units is null; bx / bh (when not null) are added to
/// gx / gh first. hn may be h.
using GruCondUnitsFn = void (*)(const float* gx, const float* bx, const float* gh, const float* bh,
                                const float* z, const float* h, const int32_t* units, int64_t n,
                                float* hn);
/// hn[i] = gru_dense_unit(gx + 3 i, gh + 3 i, h[i]) for i < n, biases as above.
using GruDenseUnitsFn = void (*)(const float* gx, const float* bx, const float* gh, const float* bh,
                                 const float* h, int64_t n, float* hn);
/// CLIPTANH in place: z[i] = tanh_gate(z[i]) where z[i] > 0, else 0; the indices of the
/// positive entries, ascending, into units (when not null); returns their number.
using ClipTanhFn = int64_t (*)(float* z, int64_t n, int32_t* units);
/// y[i] = tanh_gate(x[i]).
using TanhGateArrayFn = void (*)(const float* x, int64_t n, float* y);

struct KernelTable {
    Isa isa;
#define CCINFER_TABLE_FIELD(name, Fn, ...) Fn name;
    CCINFER_KERNEL_LIST(CCINFER_TABLE_FIELD)
#undef CCINFER_TABLE_FIELD
};

/// The kernel of a table for float32 or binary16 weights, so a routine written once as a
/// template over the weight type picks the right one.
inline GemvRowsFn gemv_rows_for(const KernelTable& t, const float*) { return t.gemv_rows; }
inline GemvRowsF16Fn gemv_rows_for(const KernelTable& t, const uint16_t*) {
    return t.gemv_rows_f16;
}
inline BlockGemmFn block_gemm_for(const KernelTable& t, const float*) { return t.block_gemm; }
inline BlockGemmF16Fn block_gemm_for(const KernelTable& t, const uint16_t*) {
    return t.block_gemm_f16;
}
inline PanelGemmFn panel_gemm_for(const KernelTable& t, const float*) { return t.panel_gemm; }
inline PanelGemmF16Fn panel_gemm_for(const KernelTable& t, const uint16_t*) {
    return t.panel_gemm_f16;
}
inline GemvSamplesFn gemv_samples_for(const KernelTable& t, const float*) { return t.gemv_samples; }
inline GemvSamplesF16Fn gemv_samples_for(const KernelTable& t, const uint16_t*) {
    return t.gemv_samples_f16;
}

/// The table of the active ISA (see cpu.h). Valid until set_active_isa().
const KernelTable& active();

/// The table of a given compiled ISA (tests compare levels against each other).
const KernelTable& table_for(Isa isa);

}  // namespace ccinfer::kernels

// Every kernel of every compiled ISA, as a constant pointer: ccinfer::kernels::<isa>::<name>,
// defined (constant-initialised, so usable from any static initialiser) in the <isa>.cpp of
// the kernel's folder.
#define CCINFER_DECLARE_KERNEL(name, Fn, ...) extern const Fn name;
#define CCINFER_DECLARE_ISA(ns, isa)            \
    namespace ccinfer::kernels::ns {            \
    CCINFER_KERNEL_LIST(CCINFER_DECLARE_KERNEL) \
    }
CCINFER_KERNEL_ISAS(CCINFER_DECLARE_ISA)
#undef CCINFER_DECLARE_ISA
#undef CCINFER_DECLARE_KERNEL
