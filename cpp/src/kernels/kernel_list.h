#pragma once
/// The list of kernels, once: X(name, Fn) for each, in table order, Fn its pointer type
/// (table.h documents each). The dispatch table (table.h), the per-ISA declarations below and
/// the per-ISA tables (table.cpp) all expand it; a kernel folder's <isa>.cpp defines the
/// kernels of its folder for that ISA.
#define CCINFER_KERNEL_LIST(X)              \
    X(gemv_rows, GemvRowsFn)                \
    X(gemv_rows_f16, GemvRowsF16Fn)         \
    X(block_gemm, BlockGemmFn)              \
    X(block_gemm_f16, BlockGemmF16Fn)       \
    X(panel_gemm, PanelGemmFn)              \
    X(panel_gemm_f16, PanelGemmF16Fn)       \
    X(gemv_samples, GemvSamplesFn)          \
    X(gemv_samples_f16, GemvSamplesF16Fn)   \
    X(sign_rows, SignRowsFn)                \
    X(sign_mask, SignMaskFn)                \
    X(sparse_input_cols, SparseInputColsFn) \
    X(sparse_input_rows, SparseInputRowsFn) \
    X(tree_axpy, TreeAxpyFn)                \
    X(gru_cond_units, GruCondUnitsFn)       \
    X(gru_dense_units, GruDenseUnitsFn)     \
    X(clip_tanh, ClipTanhFn)                \
    X(tanh_gate_array, TanhGateArrayFn)

/// The kernel sets this build compiles, X(namespace, Isa enumerator): each is a namespace
/// ccinfer::kernels::<namespace> holding one definition of every kernel of the list.
#ifdef CCINFER_X86
#define CCINFER_KERNEL_ISAS(X) X(scalar, kScalar) X(avx2, kAvx2) X(avx512, kAvx512)
#else
#define CCINFER_KERNEL_ISAS(X) X(scalar, kScalar)
#endif
