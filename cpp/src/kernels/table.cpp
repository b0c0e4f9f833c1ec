#include "table.h"

#include <stdexcept>

#include "block_gemm/block_gemm.h"
#include "gemv_rows/gemv_rows.h"
#include "gemv_samples/gemv_samples.h"
#include "gru_gates/gru_gates.h"
#include "panel_gemm/panel_gemm.h"
#include "sign_rows/sign_rows.h"
#include "sparse_input/sparse_input.h"
#include "tree_axpy/tree_axpy.h"

namespace ccinfer::kernels {
namespace {

const KernelTable kScalarTable{Isa::kScalar, scalar::gemv_rows, scalar::block_gemm,
                                scalar::sign_rows, scalar::sign_mask,
                                scalar::gemv_samples, scalar::sparse_input_cols,
                                scalar::sparse_input_rows, scalar::tree_axpy,
    scalar::gemv_rows_f16, scalar::block_gemm_f16, scalar::gemv_samples_f16,
    scalar::gru_cond_units, scalar::gru_dense_units, scalar::clip_tanh, scalar::tanh_gate_array,
    scalar::panel_gemm, scalar::panel_gemm_f16};
#ifdef CCINFER_X86
const KernelTable kAvx2Table{Isa::kAvx2, avx2::gemv_rows, avx2::block_gemm, avx2::sign_rows,
                              avx2::sign_mask,
                              avx2::gemv_samples, avx2::sparse_input_cols,
                              avx2::sparse_input_rows, avx2::tree_axpy,
    avx2::gemv_rows_f16, avx2::block_gemm_f16, avx2::gemv_samples_f16,
    avx2::gru_cond_units, avx2::gru_dense_units, avx2::clip_tanh, avx2::tanh_gate_array,
    avx2::panel_gemm, avx2::panel_gemm_f16};
const KernelTable kAvx512Table{Isa::kAvx512, avx512::gemv_rows, avx512::block_gemm,
                                avx512::sign_rows, avx512::sign_mask,
                                avx512::gemv_samples, avx512::sparse_input_cols,
                                avx512::sparse_input_rows, avx512::tree_axpy,
    avx512::gemv_rows_f16, avx512::block_gemm_f16, avx512::gemv_samples_f16,
    avx512::gru_cond_units, avx512::gru_dense_units, avx512::clip_tanh,
    avx512::tanh_gate_array, avx512::panel_gemm, avx512::panel_gemm_f16};
#endif

}  // namespace

const KernelTable& table_for(Isa isa) {
    switch (isa) {
#ifdef CCINFER_X86
        case Isa::kAvx512:
            return kAvx512Table;
        case Isa::kAvx2:
            return kAvx2Table;
#endif
        case Isa::kScalar:
            return kScalarTable;
        default:
            throw std::invalid_argument(std::string("ccinfer: ISA ") + isa_name(isa) +
                                        " is not compiled into this build");
    }
}

}  // namespace ccinfer::kernels
