#include "ccinfer/gru_gates.h"

#include "../kernels/table.h"

namespace ccinfer {

void gate_tanh(const float* x, int64_t n, float* y) { kernels::active().tanh_gate_array(x, n, y); }

int64_t gate_clip_tanh(float* z, int64_t n, int32_t* units) {
    return kernels::active().clip_tanh(z, n, units);
}

void gate_cond_units(const float* gx, const float* bx, const float* gh, const float* bh,
                     const float* z, const float* h, const int32_t* units, int64_t n, float* hn) {
    kernels::active().gru_cond_units(gx, bx, gh, bh, z, h, units, n, hn);
}

void gate_dense_units(const float* gx, const float* bx, const float* gh, const float* bh,
                      const float* h, int64_t n, float* hn) {
    kernels::active().gru_dense_units(gx, bx, gh, bh, h, n, hn);
}

}  // namespace ccinfer
