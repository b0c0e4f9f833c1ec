// ccinfer._core: the only translation units that know Python. Each bind_*.cpp adds one area.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ccinfer/build_info.h"
#include "ccinfer/cpu.h"
#include "ccinfer/finite.h"
#include "ccinfer/sparse_input_gemv.h"
#include "ccinfer/threads.h"
#include "checks.h"

namespace py = pybind11;

namespace ccinfer::bindings {
void bind_dense(py::module_& kernels);
void bind_cond_gemv(py::module_& kernels);
void bind_cond_gemv_batch(py::module_& kernels);
void bind_sparse_input_gemv(py::module_& kernels);
void bind_block_gated_gemm(py::module_& kernels);
void bind_panel_gemm(py::module_& kernels);
void bind_sign_estimator(py::module_& kernels);
void bind_cond_mlp(py::module_& m);
void bind_tree_gated(py::module_& m);
void bind_gru(py::module_& m);
void bind_membw(py::module_& kernels);
void bind_format(py::module_& m);
}  // namespace ccinfer::bindings

PYBIND11_MODULE(_core, m) {
    using namespace ccinfer;
    m.doc() = "ccinfer's compiled core (private: use the ccinfer package)";

    m.def("build_info", [] {
        const BuildInfo info = build_info();
        py::dict d;
        d["version"] = info.version;
        d["compiled_isas"] = info.compiled_isas;
        d["available_isas"] = info.available_isas;
        d["detected_isa"] = info.detected_isa;
        d["active_isa"] = info.active_isa;
        d["omp_max_threads"] = info.omp_max_threads;
        d["openblas_config"] = info.openblas_config;
        d["openblas_corename"] = info.openblas_corename;
        d["openblas_num_threads"] = info.openblas_num_threads;
        d["openblas_library"] = info.openblas_library;
        d["compiler"] = info.compiler;
        d["dchecks"] = info.dchecks;
        return d;
    });
    m.def("available_isas", [] {
        std::vector<std::string> out;
        for (Isa isa : available_isas()) out.emplace_back(isa_name(isa));
        return out;
    });
    m.def("get_isa", [] { return std::string(isa_name(active_isa())); });
    m.def(
        "set_isa", [](const std::string& name) { set_active_isa(parse_isa(name)); },
        py::arg("name"));
    m.def("init_isa_from_env", [] { return std::string(isa_name(init_isa_from_env())); });
    m.def(
        "set_num_threads",
        [](const py::object& n) {
            set_num_threads(bindings::checked_int("set_num_threads", "n", n));
        },
        py::arg("n"));
    m.def("max_num_threads", &max_num_threads);
    // The non-finite input scan every model entry point runs (ccinfer/finite.h), for tests
    // and for timing it against a whole call.
    m.def(
        "_first_non_finite",
        [](const py::handle& x_obj) {
            const py::array x = bindings::checked_array<float>("_first_non_finite", "x", x_obj,
                                                               {bindings::kAnyDim});
            return first_non_finite(static_cast<const float*>(x.data()), x.size());
        },
        py::arg("x"));
    m.def("get_num_threads", &get_num_threads);
    // Test-only: breaks a kernel precondition (rows not increasing) on purpose, so a test can
    // see, in a subprocess, that a build with CCINFER_DCHECK aborts naming the file and line.
    // Without DCHECKs the call is harmless (one tiny product into a local buffer).
    m.def("_violate_kernel_precondition", [] {
        // sparse_input_gemv_nz passes its row list to the kernel unchecked; {2, 0} is not
        // increasing (the kernel's precondition).
        const float wt[3] = {1.0f, 2.0f, 3.0f};
        const int32_t nz_index[1] = {0};
        const float nz_value[1] = {1.0f};
        const int32_t rows[2] = {2, 0};
        float out[3] = {};
        sparse_input_gemv_nz(wt, 3, 3, nz_index, nz_value, 1, rows, 2, nullptr, out);
        return out[0] + out[2];
    });

    py::module_ kernels = m.def_submodule("kernels", "Kernels: conditional and dense baselines");
    bindings::bind_dense(kernels);
    bindings::bind_cond_gemv(kernels);
    bindings::bind_cond_gemv_batch(kernels);
    bindings::bind_sparse_input_gemv(kernels);
    bindings::bind_block_gated_gemm(kernels);
    bindings::bind_panel_gemm(kernels);
    bindings::bind_sign_estimator(kernels);
    bindings::bind_membw(kernels);
    bindings::bind_cond_mlp(m);
    bindings::bind_tree_gated(m);
    bindings::bind_gru(m);
    bindings::bind_format(m);
}
