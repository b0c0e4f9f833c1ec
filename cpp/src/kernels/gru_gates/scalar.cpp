// The gate maths unit by unit with the functions of ccinfer/gate_math.h: the reference.
#include "../table.h"
#include "ccinfer/gate_math.h"

namespace ccinfer::kernels::scalar {
namespace {

// The G pre-activations of unit i, bias added when given.
template <int G>
inline void unit_inputs(const float* g, const float* b, int64_t i, float* out) {
    for (int k = 0; k < G; ++k) out[k] = b ? g[G * i + k] + b[G * i + k] : g[G * i + k];
}

void gru_cond_units_impl(const float* gx, const float* bx, const float* gh, const float* bh,
                         const float* z, const float* h, const int32_t* units, int64_t n,
                         float* hn) {
    for (int64_t a = 0; a < n; ++a) {
        const int64_t i = units ? units[a] : a;
        float x[2], y[2];
        unit_inputs<2>(gx, bx, i, x);
        unit_inputs<2>(gh, bh, i, y);
        hn[i] = gru_cond_unit(x, y, z[i], h[i]);
    }
}

void gru_dense_units_impl(const float* gx, const float* bx, const float* gh, const float* bh,
                          const float* h, int64_t n, float* hn) {
    for (int64_t i = 0; i < n; ++i) {
        float x[3], y[3];
        unit_inputs<3>(gx, bx, i, x);
        unit_inputs<3>(gh, bh, i, y);
        hn[i] = gru_dense_unit(x, y, h[i]);
    }
}

int64_t clip_tanh_impl(float* z, int64_t n, int32_t* units) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
        const bool on = z[i] > 0.0f;  // false for NaN
        z[i] = on ? tanh_gate(z[i]) : 0.0f;
        if (on && units) units[count] = static_cast<int32_t>(i);
        count += on;
    }
    return count;
}

void tanh_gate_array_impl(const float* x, int64_t n, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] = tanh_gate(x[i]);
}

}  // namespace

const GruCondUnitsFn gru_cond_units = gru_cond_units_impl;
const GruDenseUnitsFn gru_dense_units = gru_dense_units_impl;
const ClipTanhFn clip_tanh = clip_tanh_impl;
const TanhGateArrayFn tanh_gate_array = tanh_gate_array_impl;

}  // namespace ccinfer::kernels::scalar
