#pragma once
// One weight row against the samples that need it (the batched cond_gemv_batch), written once
// over a vector layer S (simd/*.h): four samples at a time, so each load of the row (from L1)
// serves four products. Which samples share a block depends only on the row's sample set,
// never on the thread split. The tail of k is kTail (dot_tail.h).
#include "../dot_tail.h"
#include "../preconditions.h"
#include "../table.h"

namespace ccinfer::kernels {

template <class S, DotTail kTail, typename Wt>
void gemv_samples(const Wt* wrow, int64_t k, const float* x, int64_t ldx, const int32_t* samples,
                  int64_t nsamples, const float* bias, float* out, int64_t ldo) {
    CCINFER_DCHECK(k >= 0 && ldx >= k && nsamples >= 0);
    CCINFER_DCHECK(indices_in_range(samples, nsamples, kAnyIndex));
    using V = typename S::V;
    constexpr int64_t W = S::kWidth;
    const int64_t kw = k & ~(W - 1);
    const typename S::Mask tail = S::first(k - kw);
    const bool masked_tail = kTail == DotTail::kMasked && kw < k;
    int64_t t = 0;
    for (; t + 4 <= nsamples; t += 4) {
        const float* xs[4];
        V a[4];
        for (int r = 0; r < 4; ++r) {
            xs[r] = x + samples[t + r] * ldx;
            a[r] = S::zero();
        }
        for (int64_t j = 0; j < kw; j += W) {
            const V wv = S::load(wrow + j);
            for (int r = 0; r < 4; ++r) a[r] = S::fma(wv, S::load(xs[r] + j), a[r]);
        }
        if (masked_tail) {
            const V wv = S::load(tail, wrow + kw);
            for (int r = 0; r < 4; ++r) a[r] = S::fma(wv, S::load(tail, xs[r] + kw), a[r]);
        }
        for (int r = 0; r < 4; ++r) {
            float s = S::reduce(a[r]);
            if (kTail == DotTail::kScalar) s = dot_tail(wrow, xs[r], kw, k, s);
            out[samples[t + r] * ldo] = bias ? s + *bias : s;
        }
    }
    // Left-over samples one at a time with four accumulators: a single FMA chain would wait
    // on its latency, and at low density most rows have fewer than four samples.
    for (; t < nsamples; ++t) {
        const float* xs = x + samples[t] * ldx;
        V a[4] = {S::zero(), S::zero(), S::zero(), S::zero()};
        int64_t j = 0;
        for (; j + 4 * W <= kw; j += 4 * W)
            for (int q = 0; q < 4; ++q)
                a[q] = S::fma(S::load(wrow + j + q * W), S::load(xs + j + q * W), a[q]);
        for (; j < kw; j += W) a[0] = S::fma(S::load(wrow + j), S::load(xs + j), a[0]);
        if (masked_tail) a[1] = S::fma(S::load(tail, wrow + kw), S::load(tail, xs + kw), a[1]);
        float s = S::reduce(S::add(S::add(a[0], a[1]), S::add(a[2], a[3])));
        if (kTail == DotTail::kScalar) s = dot_tail(wrow, xs, kw, k, s);
        out[samples[t] * ldo] = bias ? s + *bias : s;
    }
}

}  // namespace ccinfer::kernels
