#pragma once
/// Scalar gate maths of the GRU step: the reference the kernels in kernels/gru_gates/ follow
/// operation for operation (their SIMD versions give the same bits; tests/test_gate_math.py).
///
/// Why not std::exp / std::tanh: glibc's are scalar calls (tanhf costs about 4x expf), and
/// the gate maths were a tenth of a conditional GRU step. The exp below is a polynomial with
/// explicit fused multiply-adds, so a vector version can reproduce it exactly.

#include <cmath>
#include <cstdint>
#include <cstring>

namespace ccinfer {

namespace gate_constants {
// exp(x) = 2^n e^r, n = round(x log2 e), r = x - n ln 2 in two parts (Cody and Waite: n ln2_hi
// is exact), e^r - 1 = r + r^2 p(r) with Cephes' expf polynomial (|r| <= ln 2 / 2).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
// Arguments of exp_gate are clamped here: 2^n stays a normal float (n in [-126, 127]).
constexpr float kExpLo = -87.3f;
constexpr float kExpHi = 88.3f;
// tanh: the odd series below kTanhSeries, +-1 from kTanhOne on (tanh(9) rounds to 1).
constexpr float kTanhSeries = 0.25f;
constexpr float kTanhOne = 9.0f;
constexpr float kT3 = 1.0f / 3.0f, kT5 = 2.0f / 15.0f, kT7 = 17.0f / 315.0f, kT9 = 62.0f / 2835.0f;
}  // namespace gate_constants

/// e^r - 1 and 2^n for exp(x) = 2^n (1 + (e^r - 1)); x finite, n in [-126, 127].
struct ExpParts {
    float em1_r;
    float scale;
};

inline ExpParts exp_parts(float x) {
    using namespace gate_constants;
    const float n = std::nearbyint(x * kLog2e);
    float r = std::fma(n, -kLn2Hi, x);
    r = std::fma(n, -kLn2Lo, r);
    float p = kExpP[0];
    for (int i = 1; i < 6; ++i) p = std::fma(p, r, kExpP[i]);
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return {std::fma(p, r * r, r), scale};
}

/// exp(x) within 2 float32 ulps for x in [-87.3, 88.3]; x is clamped to that range (so a
/// sigmoid of a huge argument is 1 or a tiny subnormal, never NaN); NaN in, NaN out.
inline float exp_gate(float x) {
    using namespace gate_constants;
    if (std::isnan(x)) return x;
    x = kExpLo > x ? kExpLo : x;
    x = kExpHi < x ? kExpHi : x;
    const ExpParts e = exp_parts(x);
    return (e.em1_r + 1.0f) * e.scale;
}

/// The logistic function (the r gate, and z of the dense kind).
inline float sigmoid(float u) { return 1.0f / (1.0f + exp_gate(-u)); }

/// tanh for the gate maths, within 3 float32 ulps of the exact value (tests/test_gate_math.py).
/// |x| < 0.25: the odd Taylor series to x^9 (the next term is below 1e-9); else
/// (e - 1) / (e + 1) with e = exp(2|x|), e - 1 = 2^n (e^r - 1) + (2^n - 1) rounded once (no
/// cancellation), and the sign restored; |x| >= 9 gives +-1. NaN in, NaN out.
inline float tanh_gate(float x) {
    using namespace gate_constants;
    const float a = std::fabs(x);
    if (a < kTanhSeries) {
        const float x2 = x * x;
        const float p = (((kT9 * x2 - kT7) * x2 + kT5) * x2 - kT3) * x2;
        return x * (1.0f + p);  // (not x + x * p: that turns -0 into +0)
    }
    if (!(a < kTanhOne)) return std::isnan(x) ? x : std::copysign(1.0f, x);
    const ExpParts e = exp_parts(2.0f * a);
    const float em1 = std::fma(e.scale, e.em1_r, e.scale - 1.0f);
    return std::copysign(em1 / (em1 + 2.0f), x);
}

/// torch.nn.GRU for one unit: gx = (W_i x + b_i) and gh = (W_h h + b_h) of gates r, z, n.
inline float gru_dense_unit(const float* gx, const float* gh, float h) {
    const float r = sigmoid(gx[0] + gh[0]);
    const float z = sigmoid(gx[1] + gh[1]);
    const float n = tanh_gate(gx[2] + r * gh[2]);
    return (1.0f - z) * n + z * h;
}

/// The conditional GRU for one active unit: gx, gh of gates r, n; z > 0 from the z path.
inline float gru_cond_unit(const float* gx, const float* gh, float z, float h) {
    const float r = sigmoid(gx[0] + gh[0]);
    const float n = tanh_gate(gx[1] + r * gh[1]);
    return (1.0f - z) * h + z * n;
}

}  // namespace ccinfer
