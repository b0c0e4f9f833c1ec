// The tree-path axpy on AVX-512: tiles of up to 8 vectors (128 columns).
#include "../simd/avx512.h"

#include "tree_axpy.h"

namespace ccinfer::kernels::avx512 {
const TreeAxpyFn tree_axpy = kernels::tree_axpy<simd::Avx512, 8>;
}  // namespace ccinfer::kernels::avx512
