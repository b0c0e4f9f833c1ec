#include "ccinfer/threads.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "ccinfer/blas.h"

namespace ccinfer {

void set_num_threads(int n) {
    if (n < 1)
        throw std::invalid_argument("set_num_threads: n must be >= 1, got " + std::to_string(n));
    omp_set_num_threads(n);
    CCINFER_BLAS(openblas_set_num_threads)(n);
}

int get_num_threads() { return omp_get_max_threads(); }

int threads_for_work(int64_t work) {
    const int64_t by_work = std::max<int64_t>(1, work / kMinWorkPerThread);
    return static_cast<int>(std::min<int64_t>(get_num_threads(), by_work));
}

}  // namespace ccinfer
