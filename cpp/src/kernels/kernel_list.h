#pragma once
/// The list of kernels, once: X(name, Fn, entry, reference) for each, in table order. Fn is
/// its pointer type (table.h documents each); entry is where Python reaches it (relative to
/// the ccinfer package) and reference the plain NumPy function (ccinfer.reference, or numpy)
/// that every ISA's version is tested against. The dispatch table (table.h), the per-ISA
/// declarations below, the per-ISA tables (table.cpp) and the listing Python reads
/// (ccinfer.kernels.kernel_list(), listing.cpp) all expand it; a kernel folder's <isa>.cpp
/// defines the kernels of its folder for that ISA. The float16 kernels are reached through a
/// GRUStack with float16 weights, whose reference widens the weights to float32.
#define CCINFER_KERNEL_LIST(X)                                                                   \
    X(gemv_rows, GemvRowsFn, "kernels.cond_gemv", "reference.cond_gemv")                         \
    X(gemv_rows_f16, GemvRowsF16Fn, "GRUStack.step", "reference.gru_stack_step")                 \
    X(block_gemm, BlockGemmFn, "kernels.block_gated_gemm", "reference.block_gated_gemm")         \
    X(block_gemm_f16, BlockGemmF16Fn, "GRUStack.step", "reference.gru_stack_step")               \
    X(panel_gemm, PanelGemmFn, "kernels.panel_gemm", "reference.panel_gemm")                     \
    X(panel_gemm_f16, PanelGemmF16Fn, "GRUStack.step", "reference.gru_stack_step")               \
    X(gemv_samples, GemvSamplesFn, "kernels.cond_gemv_batch", "reference.cond_gemv_batch")       \
    X(gemv_samples_f16, GemvSamplesF16Fn, "GRUStack.step", "reference.gru_stack_step")           \
    X(sign_rows, SignRowsFn, "kernels.SignEstimator.predict", "reference.sign_estimate")         \
    X(sign_mask, SignMaskFn, "kernels.SignEstimator.predict_batch", "reference.sign_estimate")   \
    X(sparse_input_cols, SparseInputColsFn, "kernels.sparse_input_gemv",                         \
      "reference.sparse_input_gemv")                                                             \
    X(sparse_input_rows, SparseInputRowsFn, "kernels.sparse_input_gemv",                         \
      "reference.sparse_input_gemv")                                                             \
    X(tree_axpy, TreeAxpyFn, "TreeGatedLinear.__call__", "reference.tree_gated")                 \
    X(gru_cond_units, GruCondUnitsFn, "_core._testing.gate_units", "reference.cond_gru_step")    \
    X(gru_dense_units, GruDenseUnitsFn, "_core._testing.gate_units", "reference.gru_step_dense") \
    X(clip_tanh, ClipTanhFn, "_core._testing.gate_clip_tanh", "reference.cond_gru_z")            \
    X(tanh_gate_array, TanhGateArrayFn, "_core._testing.gate_tanh", "numpy.tanh")

/// The kernel sets this build compiles, X(namespace, Isa enumerator): each is a namespace
/// ccinfer::kernels::<namespace> holding one definition of every kernel of the list.
#ifdef CCINFER_X86
#define CCINFER_KERNEL_ISAS(X) X(scalar, kScalar) X(avx2, kAvx2) X(avx512, kAvx512)
#else
#define CCINFER_KERNEL_ISAS(X) X(scalar, kScalar)
#endif
