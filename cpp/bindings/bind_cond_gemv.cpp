// Unstructured conditional GEMV: only the listed rows of W are read.
#include "ccinfer/cond_gemv.h"
#include "checked_mask.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_cond_gemv(py::module_& kernels) {
    kernels.def(
        "cond_gemv",
        [](const py::object& w_obj, const py::object& x_obj, const py::object& rows_obj,
           const py::object& bias_obj, const py::object& out_obj, const py::object& mask_obj) {
            const char* fn = "cond_gemv";
            py::array w = checked_array<float>(fn, "W", w_obj, {kAnyDim, kAnyDim});
            const int64_t m = w.shape(0), k = w.shape(1);
            py::array x = checked_array<float>(fn, "x", x_obj, {k});
            if (rows_obj.is_none() == mask_obj.is_none())
                fail(fn, "give exactly one of rows and mask");
            py::array rows, mask;
            if (!rows_obj.is_none())
                rows = checked_array<int32_t>(fn, "rows", rows_obj, {kAnyDim});
            else
                mask = checked_mask(fn, "mask", mask_obj, {m});
            py::array bias;
            if (!bias_obj.is_none()) bias = checked_array<float>(fn, "bias", bias_obj, {m});
            py::array out;
            if (out_obj.is_none()) {
                out = py::array_t<float>(m);
                std::fill_n(static_cast<float*>(out.mutable_data()), m, 0.0f);
            } else {
                out = checked_array<float>(fn, "out", out_obj, {m}, true);
            }
            check_no_alias(
                fn, out,
                {&w, &x, rows_obj.is_none() ? nullptr : &rows, mask_obj.is_none() ? nullptr : &mask,
                 bias_obj.is_none() ? nullptr : &bias});
            const auto* wp = static_cast<const float*>(w.data());
            const auto* xp = static_cast<const float*>(x.data());
            const float* bp = bias_obj.is_none() ? nullptr : static_cast<const float*>(bias.data());
            auto* yp = static_cast<float*>(out.mutable_data());
            if (!rows_obj.is_none()) {
                const auto* rp = static_cast<const int32_t*>(rows.data());
                const int64_t nrows = rows.shape(0);
                check_rows(fn, rp, nrows, m);  // throws std::invalid_argument -> ValueError
                py::gil_scoped_release release;
                cond_gemv_prechecked(wp, m, k, k, xp, rp, nrows, bp, yp);
            } else {
                const auto* mp = static_cast<const uint8_t*>(mask.data());
                py::gil_scoped_release release;
                cond_gemv_mask(wp, m, k, k, xp, mp, bp, yp);
            }
            return out;
        },
        py::arg("W"), py::arg("x"), py::arg("rows") = py::none(), py::arg("bias") = py::none(),
        py::arg("out") = py::none(), py::kw_only(), py::arg("mask") = py::none(),
        "out[rows] = W[rows] @ x (+ bias[rows]); other entries untouched (zero when out is None).\n"
        "rows: int32, strictly increasing, in [0, m); or mask: bool/uint8 of length m\n"
        "(non-zero = active). Exactly one of rows and mask.");
}

}  // namespace ccinfer::bindings
