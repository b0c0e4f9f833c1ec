// ccinfer._core._testing: entry points the tests need and users do not: single kernels and
// scans that the models call internally, exposed so that every ISA's version can be checked
// against a reference on inputs a model would rarely produce. Nothing in the ccinfer package
// imports this module.
#include <pybind11/numpy.h>

#include <algorithm>

#include "ccinfer/check.h"
#include "ccinfer/finite.h"
#include "ccinfer/gru_gates.h"
#include "ccinfer/sparse_input_gemv.h"
#include "checks.h"

namespace ccinfer::bindings {
namespace {

const float* data_or_null(const py::array& a) {
    return a.size() ? static_cast<const float*>(a.data()) : nullptr;
}

/// The new state of n GRU units from their gate pre-activations (see the docstring below).
py::array_t<float> gate_units(const py::handle& gx_obj, const py::handle& gh_obj,
                              const py::handle& h_obj, const py::handle& z_obj,
                              const py::handle& units_obj, const py::handle& bx_obj,
                              const py::handle& bh_obj) {
    const char* fn = "gate_units";
    const py::array h = checked_array<float>(fn, "h", h_obj, {kAnyDim});
    const int64_t n = h.size(), G = z_obj.is_none() ? 3 : 2;
    const py::array gx = checked_array<float>(fn, "gx", gx_obj, {G * n});
    const py::array gh = checked_array<float>(fn, "gh", gh_obj, {G * n});
    const auto optional = [&](const py::handle& obj, const char* name) {
        return obj.is_none() ? py::array() : checked_array<float>(fn, name, obj, {G * n});
    };
    const py::array bx = optional(bx_obj, "bx"), bh = optional(bh_obj, "bh");
    py::array_t<float> hn(n);
    std::copy_n(static_cast<const float*>(h.data()), n, hn.mutable_data());
    if (G == 3) {
        CCINFER_CHECK(units_obj.is_none(), fn, ": units need z");
        gate_dense_units(data_or_null(gx), data_or_null(bx), data_or_null(gh), data_or_null(bh),
                         data_or_null(h), n, hn.mutable_data());
        return hn;
    }
    const py::array z = checked_array<float>(fn, "z", z_obj, {n});
    py::array units;
    if (!units_obj.is_none()) {
        units = checked_array<int32_t>(fn, "units", units_obj, {kAnyDim});
        const auto* u = static_cast<const int32_t*>(units.data());
        for (py::ssize_t a = 0; a < units.size(); ++a)
            CCINFER_CHECK(u[a] >= 0 && u[a] < n, fn, ": unit index out of range: units[", a,
                          "] = ", u[a], ", n = ", n);
    }
    gate_cond_units(data_or_null(gx), data_or_null(bx), data_or_null(gh), data_or_null(bh),
                    data_or_null(z), data_or_null(h),
                    units_obj.is_none() ? nullptr : static_cast<const int32_t*>(units.data()),
                    units_obj.is_none() ? n : units.size(), hn.mutable_data());
    return hn;
}

}  // namespace

void bind_test_hooks(py::module_& m) {
    py::module_ t = m.def_submodule(
        "_testing", "Single kernels and scans of the active ISA, for the tests only");
    // The non-finite input scan every model entry point runs (ccinfer/finite.h), for tests
    // and for timing it against a whole call.
    t.def(
        "first_non_finite",
        [](const py::handle& x_obj) {
            const py::array x = checked_array<float>("first_non_finite", "x", x_obj, {kAnyDim});
            return first_non_finite(static_cast<const float*>(x.data()), x.size());
        },
        py::arg("x"), "The index of the first NaN or infinity of a float32 array, else -1.");
    // The gate kernels of the GRU step (tests/test_gate_math.py).
    t.def(
        "gate_tanh",
        [](const py::handle& x_obj) {
            const py::array x = checked_array<float>("gate_tanh", "x", x_obj, {kAnyDim});
            py::array_t<float> y(x.size());
            gate_tanh(static_cast<const float*>(x.data()), x.size(), y.mutable_data());
            return y;
        },
        py::arg("x"), "The GRU step's tanh on a 1-D float32 array.");
    t.def(
        "gate_clip_tanh",
        [](const py::handle& z_obj) {
            const py::array z = checked_array<float>("gate_clip_tanh", "z", z_obj, {kAnyDim});
            py::array_t<float> out(z.size());
            py::array_t<int32_t> units(z.size());
            std::copy_n(static_cast<const float*>(z.data()), z.size(), out.mutable_data());
            const int64_t count =
                gate_clip_tanh(out.mutable_data(), out.size(), units.mutable_data());
            return py::make_tuple(out, units[py::slice(0, count, 1)]);
        },
        py::arg("z"), "CLIPTANH of a 1-D float32 array and the indices of its positive entries.");
    t.def("gate_units", &gate_units, py::arg("gx"), py::arg("gh"), py::arg("h"),
          py::arg("z") = py::none(), py::arg("units") = py::none(), py::arg("bx") = py::none(),
          py::arg("bh") = py::none(),
          "The new state of n GRU units from their gate pre-activations by the active ISA's "
          "kernel: dense (z None; gx, gh of 3 n, gates r z n per unit) or conditional (gx, gh "
          "of 2 n, gates r n; z of n; units: the ones to update, else all).");
    // Breaks a kernel precondition (rows not increasing) on purpose, so a test can see, in a
    // subprocess, that a build with CCINFER_DCHECK aborts naming the file and line. Without
    // DCHECKs the call is harmless (one tiny product into a local buffer).
    t.def("violate_kernel_precondition", [] {
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
}

}  // namespace ccinfer::bindings
