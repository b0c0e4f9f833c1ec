#pragma once
/// Scalar gate nonlinearities of the GRU step, shared by every path (one copy, so the
/// single-stream and batch steps round the same way).

#include <cmath>

namespace ccinfer {

/// The logistic function (the r gate, and z of the dense kind).
inline float sigmoid(float u) { return 1.0f / (1.0f + std::exp(-u)); }

/// tanh for the gate maths, within 3 float32 ulps of the exact value (tests/test_gate_math.py
/// checks it through ccinfer._core._gate_tanh): glibc's tanhf goes through expm1f and costs
/// about 4x expf, which made tanh the largest single cost of a GRU step at hidden 256 and
/// about a quarter of a batched step. |x| < 0.25: the odd Taylor series to x^9 (the next
/// term is below 1e-9); else (e - 1) / (e + 1) with e = exp(2|x|) >= 1.65 (mild
/// cancellation) and the sign restored; |x| >= 9 gives +-1. NaN in, NaN out.
inline float tanh_gate(float x) {
    const float a = std::fabs(x);
    if (a < 0.25f) {
        const float x2 = x * x;
        const float p = ((((62.0f / 2835.0f) * x2 - 17.0f / 315.0f) * x2 + 2.0f / 15.0f) * x2 -
                         1.0f / 3.0f) * x2;
        return x * (1.0f + p);  // (not x + x * p: that turns -0 into +0)
    }
    if (!(a < 9.0f)) return std::isnan(x) ? x : std::copysign(1.0f, x);  // tanh(9) rounds to 1
    const float e = std::exp(2.0f * a);
    return std::copysign((e - 1.0f) / (e + 1.0f), x);
}

}  // namespace ccinfer
