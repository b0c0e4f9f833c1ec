// Batched unstructured conditional products: each sample gets only its own rows.
#include "ccinfer/cond_gemv_batch.h"
#include "checked_mask.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_cond_gemv_batch(py::module_& kernels) {
    kernels.def(
        "cond_gemv_batch",
        [](const py::object& w_obj, const py::object& x_obj, const py::object& mask_obj,
           const py::object& bias_obj, const py::object& out_obj, const py::object& indptr_obj,
           const py::object& indices_obj) {
            const char* fn = "cond_gemv_batch";
            py::array w = checked_array<float>(fn, "W", w_obj, {kAnyDim, kAnyDim});
            const int64_t m = w.shape(0), k = w.shape(1);
            py::array x = checked_array<float>(fn, "X", x_obj, {kAnyDim, k});
            const int64_t n = x.shape(0);
            const bool csr = !indptr_obj.is_none() || !indices_obj.is_none();
            if (csr == !mask_obj.is_none())
                fail(fn, "give exactly one of mask and (indptr, indices)");
            if (csr && (indptr_obj.is_none() || indices_obj.is_none()))
                fail(fn, "indptr and indices go together");
            py::array mask, indptr, indices;
            if (csr) {
                indptr = checked_array<int32_t>(fn, "indptr", indptr_obj, {n + 1});
                indices = checked_array<int32_t>(fn, "indices", indices_obj, {kAnyDim});
            } else {
                mask = checked_mask(fn, "mask", mask_obj, {n, m});
            }
            py::array bias;
            if (!bias_obj.is_none()) bias = checked_array<float>(fn, "bias", bias_obj, {m});
            py::array out;
            if (out_obj.is_none()) {
                out = py::array_t<float>({n, m});
                std::fill_n(static_cast<float*>(out.mutable_data()), n * m, 0.0f);
            } else {
                out = checked_array<float>(fn, "out", out_obj, {n, m}, true);
            }
            check_no_alias(fn, out,
                           {&w, &x, csr ? nullptr : &mask, csr ? &indptr : nullptr,
                            csr ? &indices : nullptr, bias_obj.is_none() ? nullptr : &bias});
            const auto* wp = static_cast<const float*>(w.data());
            const auto* xp = static_cast<const float*>(x.data());
            const float* bp = bias_obj.is_none() ? nullptr : static_cast<const float*>(bias.data());
            auto* yp = static_cast<float*>(out.mutable_data());
            if (csr) {
                const auto* ip = static_cast<const int32_t*>(indptr.data());
                const auto* jp = static_cast<const int32_t*>(indices.data());
                check_csr_rows(fn, ip, n, jp, indices.shape(0), m);  // -> ValueError
                py::gil_scoped_release release;
                cond_gemv_batch_csr(wp, m, k, xp, n, ip, jp, bp, yp);
            } else {
                const auto* mp = static_cast<const uint8_t*>(mask.data());
                py::gil_scoped_release release;
                cond_gemv_batch(wp, m, k, xp, n, mp, bp, yp);
            }
            return out;
        },
        py::arg("W"), py::arg("X"), py::arg("mask") = py::none(), py::arg("bias") = py::none(),
        py::arg("out") = py::none(), py::kw_only(), py::arg("indptr") = py::none(),
        py::arg("indices") = py::none(),
        "out[s, i] = X[s] @ W[i] (+ bias[i]) where mask[s, i]; other entries untouched (zero\n"
        "when out is None). mask: bool/uint8 (n, m); or CSR row lists indptr (n + 1,) and\n"
        "indices, int32, each sample's rows strictly increasing in [0, m).");
}

}  // namespace ccinfer::bindings
