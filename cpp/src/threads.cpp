#include "ccinfer/threads.h"

#include <omp.h>

#include <algorithm>

#include "ccinfer/blas.h"
#include "ccinfer/check.h"

namespace ccinfer {

int max_num_threads() { return std::max(64, 4 * omp_get_num_procs()); }

void set_num_threads(int64_t n) {
    CCINFER_CHECK(n >= 1 && n <= max_num_threads(), "set_num_threads: n must be in [1, ",
                  max_num_threads(), "] (4 x the processors, at least 64), got ", n);
    omp_set_num_threads(static_cast<int>(n));
    CCINFER_BLAS(openblas_set_num_threads)(static_cast<int>(n));
}

int get_num_threads() { return omp_get_max_threads(); }

int threads_for_work(int64_t work) {
    const int64_t by_work = std::max<int64_t>(1, work / kMinWorkPerThread);
    return static_cast<int>(std::min<int64_t>(get_num_threads(), by_work));
}

}  // namespace ccinfer
