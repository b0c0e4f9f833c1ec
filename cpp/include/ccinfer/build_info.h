#pragma once
/// What this build of ccinfer is and what it runs on.

#include <string>
#include <vector>

namespace ccinfer {

struct BuildInfo {
    std::string version;
    std::vector<std::string> compiled_isas;   ///< kernels this build contains
    std::vector<std::string> available_isas;  ///< of those, the ones this CPU runs
    std::string detected_isa;                 ///< best level of the CPU
    std::string active_isa;                   ///< level in use now
    int omp_max_threads;                      ///< ccinfer's thread count
    std::string openblas_config;              ///< openblas_get_config()
    std::string openblas_corename;            ///< the kernel set OpenBLAS chose at run time
    int openblas_num_threads;
    std::string openblas_library;  ///< file the linker bound cblas_sgemv to ("" if unknown)
    std::string compiler;
    bool dchecks;  ///< internal invariants (CCINFER_DCHECK) checked: the CCINFER_DCHECK option
};

BuildInfo build_info();

}  // namespace ccinfer
