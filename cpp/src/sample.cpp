// Seeded token sampling (ccinfer/sample.h).
#include "ccinfer/sample.h"

#include <cmath>

#include "ccinfer/check.h"

namespace ccinfer {

double splitmix64_uniform(uint64_t* state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int64_t sample_token(const float* logits, int64_t n, double temperature, uint64_t* state) {
    CCINFER_CHECK(n >= 1, "sample_token: n must be >= 1, got ", n);
    CCINFER_CHECK(std::isfinite(temperature) && temperature >= 0,
                  "sample_token: temperature must be a finite number >= 0, got ", temperature);
    int64_t best = 0;
    for (int64_t i = 0; i < n; ++i) {
        CCINFER_CHECK(std::isfinite(logits[i]), "sample_token: logits[", i, "] is ", logits[i],
                      "; logits must be finite");
        if (logits[i] > logits[best]) best = i;  // the first maximum
    }
    if (temperature == 0) return best;
    const double top = static_cast<double>(logits[best]) / temperature;
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
        total += std::exp(static_cast<double>(logits[i]) / temperature - top);
    const double target = splitmix64_uniform(state) * total;
    double running = 0;
    for (int64_t i = 0; i < n; ++i) {
        running += std::exp(static_cast<double>(logits[i]) / temperature - top);
        if (running > target) return i;
    }
    // u * total < total, but a sum in another order can round below it: the last token with
    // any weight.
    for (int64_t i = n - 1; i > 0; --i)
        if (std::exp(static_cast<double>(logits[i]) / temperature - top) > 0) return i;
    return 0;
}

}  // namespace ccinfer
