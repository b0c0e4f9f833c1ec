// The ccinfer core without Python: a dense product through OpenBLAS and the same product over
// a subset of rows through the conditional kernel, checked against each other.
//
//   cmake -S . -B build/examples -DCCINFER_BUILD_EXAMPLES=ON -DCCINFER_BUILD_PYTHON=OFF
//   cmake --build build/examples && build/examples/dense_example
#include <cmath>
#include <cstdio>
#include <vector>

#include "ccinfer/build_info.h"
#include "ccinfer/cond_gemv.h"
#include "ccinfer/cpu.h"
#include "ccinfer/dense.h"

int main() {
    const int64_t m = 257, k = 131;
    std::vector<float> w(m * k), x(k), dense(m), cond(m, 0.0f);
    for (int64_t i = 0; i < m * k; ++i) w[i] = static_cast<float>((i * 7) % 11) - 5.0f;
    for (int64_t j = 0; j < k; ++j) x[j] = static_cast<float>(j % 5) - 2.0f;

    ccinfer::init_isa_from_env();
    ccinfer::dense_gemv(w.data(), m, k, k, x.data(), dense.data());

    std::vector<int32_t> rows;
    for (int32_t r = 0; r < m; r += 3) rows.push_back(r);
    ccinfer::cond_gemv(w.data(), m, k, k, x.data(), rows.data(), static_cast<int64_t>(rows.size()),
                       nullptr, cond.data());

    int bad = 0;
    for (int32_t r : rows) bad += cond[r] != dense[r];  // integer data: sums are exact
    const ccinfer::BuildInfo info = ccinfer::build_info();
    std::printf("ccinfer %s, ISA %s, OpenBLAS %s\n", info.version.c_str(), info.active_isa.c_str(),
                info.openblas_corename.c_str());
    std::printf("dense_gemv %lldx%lld: y[0] = %g; cond_gemv on %zu rows: %d mismatches\n",
                static_cast<long long>(m), static_cast<long long>(k), dense[0], rows.size(), bad);
    return bad == 0 ? 0 : 1;
}
