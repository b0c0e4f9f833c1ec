// ccinfer._core: the only translation units that know Python. Each bind_*.cpp adds one area.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "ccinfer/build_info.h"
#include "ccinfer/cpu.h"
#include "ccinfer/kernel_listing.h"
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
void bind_test_hooks(py::module_& m);
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
    m.def("get_num_threads", &get_num_threads);

    py::module_ kernels = m.def_submodule("kernels", "Kernels: conditional and dense baselines");
    bindings::bind_dense(kernels);
    bindings::bind_cond_gemv(kernels);
    bindings::bind_cond_gemv_batch(kernels);
    bindings::bind_sparse_input_gemv(kernels);
    bindings::bind_block_gated_gemm(kernels);
    bindings::bind_panel_gemm(kernels);
    bindings::bind_sign_estimator(kernels);
    bindings::bind_membw(kernels);
    kernels.def(
        "kernel_list",
        [] {
            py::list out;
            for (const KernelListing& k : kernel_listing()) {
                py::dict d;
                d["name"] = k.name;
                d["entry"] = k.entry;
                d["reference"] = k.reference;
                py::dict code;
                for (const auto& [isa, set] : k.code) code[py::str(isa)] = set;
                d["code"] = code;
                out.append(d);
            }
            return out;
        },
        "The kernels this build compiles (cpp/src/kernels/kernel_list.h), in table order.");
    bindings::bind_cond_mlp(m);
    bindings::bind_tree_gated(m);
    bindings::bind_gru(m);
    bindings::bind_format(m);
    bindings::bind_test_hooks(m);
}
