// Input-sparse GEMV over the transposed weights: only the rows of Wt with x[j] != 0 are read.
#include "ccinfer/cond_gemv.h"
#include "ccinfer/sparse_input_gemv.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_sparse_input_gemv(py::module_& kernels) {
    kernels.def(
        "sparse_input_gemv",
        [](const py::object& wt_obj, const py::object& x_obj, const py::object& rows_obj,
           const py::object& bias_obj, const py::object& out_obj) {
            const char* fn = "sparse_input_gemv";
            py::array wt = checked_array<float>(fn, "Wt", wt_obj, {kAnyDim, kAnyDim});
            const int64_t k = wt.shape(0), m = wt.shape(1);
            py::array x = checked_array<float>(fn, "x", x_obj, {k});
            py::array rows;
            if (!rows_obj.is_none()) rows = checked_array<int32_t>(fn, "rows", rows_obj, {kAnyDim});
            py::array bias;
            if (!bias_obj.is_none()) bias = checked_array<float>(fn, "bias", bias_obj, {m});
            py::array out;
            if (out_obj.is_none()) {
                out = py::array_t<float>(m);
                std::fill_n(static_cast<float*>(out.mutable_data()), m, 0.0f);
            } else {
                out = checked_array<float>(fn, "out", out_obj, {m}, true);
            }
            check_no_alias(fn, out,
                           {&wt, &x, rows_obj.is_none() ? nullptr : &rows,
                            bias_obj.is_none() ? nullptr : &bias});
            const auto* wp = static_cast<const float*>(wt.data());
            const auto* xp = static_cast<const float*>(x.data());
            const float* bp = bias_obj.is_none() ? nullptr : static_cast<const float*>(bias.data());
            auto* yp = static_cast<float*>(out.mutable_data());
            if (rows_obj.is_none()) {
                py::gil_scoped_release release;
                sparse_input_gemv(wp, k, m, m, xp, bp, yp);
            } else {
                const auto* rp = static_cast<const int32_t*>(rows.data());
                const int64_t nrows = rows.shape(0);
                check_rows(fn, rp, nrows, m);  // throws std::invalid_argument -> ValueError
                py::gil_scoped_release release;
                sparse_input_gemv_rows(wp, k, m, m, xp, rp, nrows, bp, yp);
            }
            return out;
        },
        py::arg("Wt"), py::arg("x"), py::arg("rows") = py::none(), py::arg("bias") = py::none(),
        py::arg("out") = py::none(),
        "out = Wt.T @ x (+ bias) summing only over the non-zero x[j] (rows j of Wt), in\n"
        "increasing j. Wt (k, m) float32 is the transposed weight copy. With rows (int32,\n"
        "strictly increasing, in [0, m)) only out[rows] is written; other entries untouched\n"
        "(zero when out is None).");
}

}  // namespace ccinfer::bindings
