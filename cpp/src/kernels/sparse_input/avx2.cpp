// The input-sparse product on AVX2: the body of sparse_input.h over the AVX2 vector layer.
#include "../simd/avx2.h"

#include "sparse_input.h"

namespace ccinfer::kernels::avx2 {
const SparseInputColsFn sparse_input_cols = kernels::sparse_input_cols<simd::Avx2>;
const SparseInputRowsFn sparse_input_rows = kernels::sparse_input_rows<simd::Avx2>;
}  // namespace ccinfer::kernels::avx2
