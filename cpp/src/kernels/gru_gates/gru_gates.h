#pragma once
// The GRU step's per-unit gate maths over many units (ccinfer/gate_math.h gives the maths of
// one unit; every variant returns its bits exactly): the scalar reference, AVX2 (8 units at a
// time) and AVX-512 (16).
#include "../table.h"

#define CCINFER_GRU_GATES_DECLARATIONS                                                        \
    void gru_cond_units(const float* gx, const float* bx, const float* gh, const float* bh, \
                        const float* z, const float* h, const int32_t* units, int64_t n,    \
                        float* hn);                                                         \
    void gru_dense_units(const float* gx, const float* bx, const float* gh, const float* bh, \
                         const float* h, int64_t n, float* hn);                              \
    int64_t clip_tanh(float* z, int64_t n, int32_t* units);                                  \
    void tanh_gate_array(const float* x, int64_t n, float* y);

namespace ccinfer::kernels::scalar {
CCINFER_GRU_GATES_DECLARATIONS
}
namespace ccinfer::kernels::avx2 {
CCINFER_GRU_GATES_DECLARATIONS
}
namespace ccinfer::kernels::avx512 {
CCINFER_GRU_GATES_DECLARATIONS
}
#undef CCINFER_GRU_GATES_DECLARATIONS
