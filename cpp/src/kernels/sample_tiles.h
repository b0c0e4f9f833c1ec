#pragma once
// How the GEMM kernels split a list of samples into register tiles.
#include <cstdint>

namespace ccinfer::kernels {

/// Calls fn(t, size, samples_i, x_i, y_i) for tile t of `size` samples, the tiles taking the
/// nsamples samples in order, at most max_size each and of nearly equal size (26 at 12: 9,
/// 9, 8, not 12, 12, 2: a small tile does few FMAs per load). With a sample list, samples_i
/// points into it and x_i, y_i are x, y (the tile indexes them); without one (samples null:
/// samples 0, 1, ...), samples_i is null and x_i, y_i point at the tile's first row.
template <typename Fn>
inline void for_each_tile(const int32_t* samples, int64_t nsamples, int64_t max_size,
                          const float* x, int64_t ldx, float* y, int64_t ldy, Fn&& fn) {
    for (int64_t i = 0, t = 0; i < nsamples; ++t) {
        const int64_t left = nsamples - i;
        const int64_t tiles = (left + max_size - 1) / max_size;
        const int64_t size = (left + tiles - 1) / tiles;
        if (samples)
            fn(t, size, samples + i, x, y);
        else
            fn(t, size, static_cast<const int32_t*>(nullptr), x + i * ldx, y + i * ldy);
        i += size;
    }
}

}  // namespace ccinfer::kernels
