// The memory-bandwidth probe, for the benchmark report (bench/report.py).
#include "ccinfer/check.h"
#include "ccinfer/membw.h"
#include "ccinfer/threads.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_membw(py::module_& kernels) {
    kernels.def(
        "memory_bandwidth",
        [](double mb, const py::object& threads_obj, int repeats) {
            const char* fn = "memory_bandwidth";
            CCINFER_CHECK(mb * 1e6 >= 4096 && mb <= 65536, fn,
                          ": mb must be in [0.004096, 65536], got ", mb);
            CCINFER_CHECK(repeats >= 1, fn, ": repeats must be >= 1, got ", repeats);
            const int threads = threads_obj.is_none() ? get_num_threads() : threads_obj.cast<int>();
            CCINFER_CHECK(threads >= 1, fn, ": threads must be >= 1, got ", threads);
            MemoryBandwidth r;
            {
                py::gil_scoped_release release;
                r = memory_bandwidth(static_cast<int64_t>(mb * 1e6), threads, repeats);
            }
            py::dict d;
            d["copy_gbs"] = r.copy_best;
            d["copy_gbs_median"] = r.copy_median;
            d["triad_gbs"] = r.triad_best;
            d["triad_gbs_median"] = r.triad_median;
            d["read_gbs"] = r.read_best;
            d["read_gbs_median"] = r.read_median;
            d["threads"] = r.threads;
            d["mb_per_array"] = static_cast<double>(r.bytes_per_array) / 1e6;
            d["repeats"] = r.repeats;
            return d;
        },
        py::arg("mb") = 64.0, py::arg("threads") = py::none(), py::arg("repeats") = 5,
        "STREAM-style copy, triad and read-only sum over three float32 arrays of `mb` MB (1e6 "
        "bytes) each, in one OpenMP region of `threads` threads (default: ccinfer's count). "
        "Returns a dict of GB/s (best and median of `repeats` timed repeats), threads, "
        "mb_per_array, repeats.");
}

}  // namespace ccinfer::bindings
