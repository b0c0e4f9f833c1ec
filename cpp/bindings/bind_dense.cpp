// Dense OpenBLAS baselines: the reference every speed-up is measured against.
#include "ccinfer/dense.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_dense(py::module_& kernels) {
    kernels.def(
        "dense_gemv",
        [](const py::object& w_obj, const py::object& x_obj, const py::object& out_obj) {
            const char* fn = "dense_gemv";
            py::array w = checked_array<float>(fn, "W", w_obj, {kAnyDim, kAnyDim});
            const int64_t m = w.shape(0), k = w.shape(1);
            if (m == 0 || k == 0) fail(fn, "W must not be empty, got " + shape_str({m, k}));
            py::array x = checked_array<float>(fn, "x", x_obj, {k});
            py::array out = out_obj.is_none() ? py::array_t<float>(m)
                                              : checked_array<float>(fn, "out", out_obj, {m}, true);
            check_no_alias(fn, out, {&w, &x});
            const auto* wp = static_cast<const float*>(w.data());
            const auto* xp = static_cast<const float*>(x.data());
            auto* yp = static_cast<float*>(out.mutable_data());
            {
                py::gil_scoped_release release;
                dense_gemv(wp, m, k, k, xp, yp);
            }
            return out;
        },
        py::arg("W"), py::arg("x"), py::arg("out") = py::none(),
        "y = W @ x through OpenBLAS sgemv. W (m, k) float32 C-contiguous, x (k,).");

    kernels.def(
        "dense_gemm",
        [](const py::object& w_obj, const py::object& x_obj, const py::object& out_obj) {
            const char* fn = "dense_gemm";
            py::array w = checked_array<float>(fn, "W", w_obj, {kAnyDim, kAnyDim});
            const int64_t m = w.shape(0), k = w.shape(1);
            if (m == 0 || k == 0) fail(fn, "W must not be empty, got " + shape_str({m, k}));
            py::array x = checked_array<float>(fn, "X", x_obj, {kAnyDim, k});
            const int64_t n = x.shape(0);
            if (n == 0) fail(fn, "X must have at least one row, got " + shape_str({n, k}));
            py::array out = out_obj.is_none()
                                ? py::array_t<float>({n, m})
                                : checked_array<float>(fn, "out", out_obj, {n, m}, true);
            check_no_alias(fn, out, {&w, &x});
            const auto* wp = static_cast<const float*>(w.data());
            const auto* xp = static_cast<const float*>(x.data());
            auto* yp = static_cast<float*>(out.mutable_data());
            {
                py::gil_scoped_release release;
                dense_gemm(wp, m, k, xp, n, yp);
            }
            return out;
        },
        py::arg("W"), py::arg("X"), py::arg("out") = py::none(),
        "Y = X @ W.T through OpenBLAS sgemm. W (m, k), X (n, k), Y (n, m), float32.");
}

}  // namespace ccinfer::bindings
