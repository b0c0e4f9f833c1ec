// The batch step's outer-product GEMM over row panels, exposed so it can be checked against
// NumPy on every ISA. It packs W on every call; a model keeps its packed copy.
#include <string>
#include <vector>

#include "ccinfer/aligned.h"
#include "ccinfer/check.h"
#include "ccinfer/panel_gemm.h"
#include "checks.h"

namespace ccinfer::bindings {

void bind_panel_gemm(py::module_& kernels) {
    kernels.def(
        "panel_gemm",
        [](const py::object& w_obj, const py::object& x_obj, const py::object& samples_obj) {
            const char* fn = "panel_gemm";
            py::array w = checked_array<float>(fn, "W", w_obj, {kAnyDim, kAnyDim});
            const int64_t m = w.shape(0), k = w.shape(1);
            py::array x = checked_array<float>(fn, "X", x_obj, {kAnyDim, k});
            const int64_t n = x.shape(0);
            py::array samples;
            int64_t ns = n;
            if (!samples_obj.is_none()) {
                samples = checked_array<int32_t>(fn, "samples", samples_obj, {kAnyDim});
                ns = samples.shape(0);
                const auto* sp = static_cast<const int32_t*>(samples.data());
                for (int64_t i = 0; i < ns; ++i)
                    CCINFER_CHECK(sp[i] >= 0 && sp[i] < n, fn, ": samples[", i, "] = ", sp[i],
                                  " is out of range [0, ", n, ")");
            }
            py::array_t<float> out({n, m});
            const auto* wp = static_cast<const float*>(w.data());
            const auto* xp = static_cast<const float*>(x.data());
            const auto* sp =
                samples_obj.is_none() ? nullptr : static_cast<const int32_t*>(samples.data());
            auto* yp = static_cast<float*>(out.mutable_data());
            {
                py::gil_scoped_release release;
                std::fill_n(yp, n * m, 0.0f);
                AlignedBuffer<float> panels(static_cast<size_t>(packed_panels_size(m, k)));
                pack_panels(wp, k, m, k, panels.data());
                panel_gemm(panels.data(), m, k, xp, sp, ns, yp);
            }
            return out;
        },
        py::arg("W"), py::arg("X"), py::arg("samples") = py::none(),
        "Y[s] = X[s] @ W.T for s in samples (every row of X when None), the other rows of Y\n"
        "zero: the outer-product kernel the GRU batch step runs over row panels (W packed\n"
        "on each call here). W (m, k), X (n, k): float32, C-contiguous; samples: int32 in\n"
        "[0, n). Every ISA gives the same bits.");
}

}  // namespace ccinfer::bindings
