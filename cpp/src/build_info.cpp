#include "ccinfer/build_info.h"

#if __has_include(<dlfcn.h>)
#include <dlfcn.h>
#endif

#include "ccinfer/blas.h"
#include "ccinfer/cpu.h"
#include "ccinfer/threads.h"

namespace ccinfer {
namespace {

// The file the dynamic linker bound our sgemv call to: proof of which OpenBLAS really runs
// (numpy ships a library with the same symbols under another name).
std::string openblas_library_path() {
#if __has_include(<dlfcn.h>)
    Dl_info dl{};
    if (dladdr(reinterpret_cast<void*>(&CCINFER_BLAS(cblas_sgemv)), &dl) && dl.dli_fname)
        return dl.dli_fname;
#endif
    return "";
}

}  // namespace

BuildInfo build_info() {
    BuildInfo info;
    info.version = CCINFER_VERSION;
    for (Isa isa : compiled_isas()) info.compiled_isas.push_back(isa_name(isa));
    for (Isa isa : available_isas()) info.available_isas.push_back(isa_name(isa));
    info.detected_isa = isa_name(detected_isa());
    info.active_isa = isa_name(active_isa());
    info.omp_max_threads = get_num_threads();
    info.openblas_config = CCINFER_BLAS(openblas_get_config)();
    info.openblas_corename = CCINFER_BLAS(openblas_get_corename)();
    info.openblas_num_threads = CCINFER_BLAS(openblas_get_num_threads)();
    info.openblas_library = openblas_library_path();
#if defined(__clang__)
    info.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    info.compiler = "gcc " __VERSION__;
#else
    info.compiler = "unknown";
#endif
#ifdef CCINFER_ENABLE_DCHECK
    info.dchecks = true;
#else
    info.dchecks = false;
#endif
    return info;
}

}  // namespace ccinfer
