// Block-gated GEMM for a batch: each block of output rows meets only the samples gated on.
#include <optional>
#include <string>

#include "ccinfer/block_gated_gemm.h"
#include "ccinfer/check.h"
#include "ccinfer/cpu.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_block_gated_gemm(py::module_& kernels) {
    kernels.def(
        "block_gated_gemm_dense_threshold",
        [](const py::object& isa) {
            return block_gated_gemm_dense_threshold(
                isa.is_none() ? active_isa() : parse_isa(isa.cast<std::string>()));
        },
        py::arg("isa") = py::none(),
        "Block density from which block_gated_gemm runs one OpenBLAS sgemm instead, for the\n"
        "kernels of `isa` (None: the active ISA); inf: never. Measured, see block_gated_gemm.h.");
    kernels.def(
        "block_gated_gemm",
        [](const py::object& w_obj, const py::object& x_obj, const py::object& gates_obj,
           int64_t block, const py::object& out_obj, const py::object& threshold_obj) {
            const char* fn = "block_gated_gemm";
            py::array w = checked_array<float>(fn, "W", w_obj, {kAnyDim, kAnyDim});
            const int64_t m = w.shape(0), k = w.shape(1);
            py::array x = checked_array<float>(fn, "X", x_obj, {kAnyDim, k});
            const int64_t n = x.shape(0);
            CCINFER_CHECK(block >= 1 && m % block == 0, fn,
                          ": block must be >= 1 and divide m = ", m, ", got block = ", block);
            py::array gates = checked_array<float>(fn, "gates", gates_obj, {n, m / block});
            const bool fresh = out_obj.is_none();
            py::array out = fresh ? py::array_t<float>({n, m})
                                  : checked_array<float>(fn, "out", out_obj, {n, m}, true);
            check_no_alias(fn, out, {&w, &x, &gates});
            std::optional<double> threshold;
            if (!threshold_obj.is_none()) {
                if (!py::isinstance<py::float_>(threshold_obj) &&
                    !py::isinstance<py::int_>(threshold_obj))
                    fail(fn,
                         "dense_threshold must be a float or None, got " + describe(threshold_obj));
                threshold = threshold_obj.cast<double>();
            }
            const auto* wp = static_cast<const float*>(w.data());
            const auto* xp = static_cast<const float*>(x.data());
            const auto* gp = static_cast<const float*>(gates.data());
            auto* yp = static_cast<float*>(out.mutable_data());
            {
                py::gil_scoped_release release;
                block_gated_gemm(wp, m, k, xp, n, gp, block, yp,
                                 fresh ? GatedOff::kZero : GatedOff::kUntouched, threshold);
            }
            return out;
        },
        py::arg("W"), py::arg("X"), py::arg("gates"), py::arg("block"), py::arg("out") = py::none(),
        py::arg("dense_threshold") = py::none(),
        "Y[s, b*block:(b+1)*block] = X[s] @ W[b*block:(b+1)*block].T where gates[s, b] > 0;\n"
        "the other blocks of Y are zero (or untouched in out=).\n"
        "W (m, k), X (n, k), gates (n, m // block), out (n, m): float32, C-contiguous.\n"
        "dense_threshold: block density from which one OpenBLAS sgemm runs instead\n"
        "(None: block_gated_gemm_dense_threshold(), measured per ISA; > 1 never; 0 always).");
}

}  // namespace ccinfer::bindings
