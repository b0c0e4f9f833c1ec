#include "ccinfer/panel_gemm.h"

#include "../kernels/table.h"

namespace ccinfer {

void panel_gemm(const float* panels, int64_t m, int64_t k, const float* x, const int32_t* samples,
                int64_t nsamples, float* y) {
    kernels::active().panel_gemm(panels, m, k, x, k, samples, nsamples, y, m, {});
}

}  // namespace ccinfer
