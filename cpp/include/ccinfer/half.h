#pragma once
/// IEEE 754 binary16 ("half", numpy float16) weights: stored as uint16_t bit patterns and
/// widened to float32 where they are used. Widening is exact, so a product over half weights
/// equals, bit for bit, the same product over their float32 values summed in the same order:
/// a model kept in half precision gives exactly the results of its float32 copy while reading
/// half the bytes.

#include <cstdint>
#include <cstring>

namespace ccinfer {

/// The float32 value of a binary16 bit pattern (exact; subnormals, infinities and NaNs
/// included). Portable: the scalar kernels and the model setup use it; the SIMD kernels
/// convert with F16C.
inline float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1fu) {  // inf / NaN (payload kept)
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {  // normal: rebias 15 -> 127
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {  // signed zero
        bits = sign;
    } else {  // subnormal: normalise
        exponent = 113;
        while (!(mantissa & 0x400u)) {
            mantissa <<= 1;
            --exponent;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

/// A weight as float32, whichever way it is stored (kernels are templates over the two).
inline float widen(float w) { return w; }
inline float widen(uint16_t w) { return half_to_float(w); }

}  // namespace ccinfer
