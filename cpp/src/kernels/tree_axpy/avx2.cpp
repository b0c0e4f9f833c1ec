// The tree-path axpy on AVX2: tiles of up to 4 vectors (4 accumulators and 4 path sums of the
// 16 ymm registers).
#include "../simd/avx2.h"

#include "tree_axpy.h"

namespace ccinfer::kernels::avx2 {
const TreeAxpyFn tree_axpy = kernels::tree_axpy<simd::Avx2, 4>;
}  // namespace ccinfer::kernels::avx2
