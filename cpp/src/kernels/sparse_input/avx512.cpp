// The input-sparse product on AVX-512: the body of sparse_input.h over the AVX-512 vector layer.
#include "../simd/avx512.h"

#include "sparse_input.h"

namespace ccinfer::kernels::avx512 {
const SparseInputColsFn sparse_input_cols = kernels::sparse_input_cols<simd::Avx512>;
const SparseInputRowsFn sparse_input_rows = kernels::sparse_input_rows<simd::Avx512>;
}  // namespace ccinfer::kernels::avx512
