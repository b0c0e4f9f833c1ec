#include "ccinfer/membw.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "ccinfer/aligned.h"
#include "ccinfer/check.h"

namespace ccinfer {

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

MemoryBandwidth memory_bandwidth(int64_t bytes_per_array, int threads, int repeats) {
    CCINFER_CHECK(bytes_per_array >= 4096,
                  "memory_bandwidth: bytes_per_array must be >= 4096, got ", bytes_per_array);
    CCINFER_CHECK(threads >= 1, "memory_bandwidth: threads must be >= 1, got ", threads);
    CCINFER_CHECK(repeats >= 1, "memory_bandwidth: repeats must be >= 1, got ", repeats);
    const int64_t n = bytes_per_array / static_cast<int64_t>(sizeof(float));
    AlignedBuffer<float> a_buf(n), b_buf(n), c_buf(n);
    float* a = a_buf.data();
    float* b = b_buf.data();
    float* c = c_buf.data();
    const float s = 0.5f;             // a converges to 2 b, so any number of repeats stays finite
    const int64_t n16 = n / 16 * 16;  // the read pass sums 16-float blocks
    std::vector<double> copy_s(repeats + 1), triad_s(repeats + 1), read_s(repeats + 1);
    std::vector<double> read_sum(repeats + 1, 0.0);
    double t0 = 0;  // shared: set and read by whichever thread runs the `single` blocks

#pragma omp parallel num_threads(threads)
    {
        // First touch with the same static split as the timed loops: pages land near the
        // thread that streams them.
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) a[i] = 1.0f, b[i] = 2.0f, c[i] = 0.0f;
        for (int r = 0; r <= repeats; ++r) {  // repeat 0 is the untimed warm-up
#pragma omp single
            t0 = omp_get_wtime();
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n; ++i) c[i] = a[i];
#pragma omp single
            {
                const double t1 = omp_get_wtime();
                copy_s[r] = t1 - t0;
                t0 = t1;
            }
#pragma omp for schedule(static)
            for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
#pragma omp single
            {
                const double t1 = omp_get_wtime();
                triad_s[r] = t1 - t0;
                t0 = t1;
            }
            // Read only (what streaming weights costs): 16 independent float sums, so the
            // compiler may vectorize them, moved into a double every 2^16 blocks so each stays
            // exact (at most 2^17). Blocks split statically, as the first touch split elements.
            const int64_t nblk = n16 / 16;
            const int nt = omp_get_num_threads(), t = omp_get_thread_num();
            const int64_t hi = nblk * (t + 1) / nt;
            double mine = 0;
            for (int64_t c0 = nblk * t / nt; c0 < hi; c0 += 65536) {
                const int64_t c1 = std::min(hi, c0 + 65536);
                float acc[16] = {};
                for (int64_t blk = c0; blk < c1; ++blk)
                    for (int j = 0; j < 16; ++j) acc[j] += b[blk * 16 + j];
                for (float v : acc) mine += v;
            }
#pragma omp atomic
            read_sum[r] += mine;
#pragma omp barrier
#pragma omp single
            read_s[r] = omp_get_wtime() - t0;
        }
    }

    float want_a = 1.0f, want_c = 0.0f;
    for (int r = 0; r <= repeats; ++r) want_c = want_a, want_a = 2.0f + s * want_c;
    for (int64_t i : {int64_t{0}, n / 2, n - 1})
        if (a[i] != want_a || c[i] != want_c)
            throw std::runtime_error(str("memory_bandwidth: wrong result at element ", i));
    for (double sum : read_sum)
        if (sum != 2.0 * static_cast<double>(n16))
            throw std::runtime_error("memory_bandwidth: wrong sum in the read pass");

    copy_s.erase(copy_s.begin());
    triad_s.erase(triad_s.begin());
    read_s.erase(read_s.begin());
    const double read_bytes = static_cast<double>(n16) * sizeof(float);
    const double copy_bytes = 2.0 * static_cast<double>(n) * sizeof(float);
    const double triad_bytes = 3.0 * static_cast<double>(n) * sizeof(float);
    MemoryBandwidth out;
    out.copy_best = copy_bytes / *std::min_element(copy_s.begin(), copy_s.end()) / 1e9;
    out.copy_median = copy_bytes / median(copy_s) / 1e9;
    out.triad_best = triad_bytes / *std::min_element(triad_s.begin(), triad_s.end()) / 1e9;
    out.triad_median = triad_bytes / median(triad_s) / 1e9;
    out.read_best = read_bytes / *std::min_element(read_s.begin(), read_s.end()) / 1e9;
    out.read_median = read_bytes / median(read_s) / 1e9;
    out.threads = threads;
    out.bytes_per_array = n * static_cast<int64_t>(sizeof(float));
    out.repeats = repeats;
    return out;
}

}  // namespace ccinfer
