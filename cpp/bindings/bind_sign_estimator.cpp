// The low-rank sign estimator of a ReLU layer: predicted-active rows for one sample, masks for
// a batch.
#include <vector>

#include "ccinfer/sign_estimator.h"
#include "checks.h"

namespace ccinfer::bindings {
namespace {

// Per-thread scratch reused across calls, so predict allocates only its result.
template <typename T>
T* scratch(size_t count) {
    static thread_local std::vector<T> buf;
    if (buf.size() < count) buf.resize(count);
    return buf.data();
}

}  // namespace

void bind_sign_estimator(py::module_& kernels) {
    py::class_<SignEstimator>(kernels, "SignEstimator",
                              "Rows of a ReLU layer predicted active: (A @ (B @ x) + bias) > tau.")
        .def(py::init([](const py::object& a_obj, const py::object& b_obj,
                         const py::object& bias_obj, float tau) {
                 const char* fn = "SignEstimator";
                 py::array a = checked_array<float>(fn, "A", a_obj, {kAnyDim, kAnyDim});
                 const int64_t m = a.shape(0), r = a.shape(1);
                 py::array b = checked_array<float>(fn, "B", b_obj, {r, kAnyDim});
                 const int64_t k = b.shape(1);
                 if (m == 0 || r == 0 || k == 0)
                     fail(fn, "A (m, r) and B (r, k) must not be empty, got A " +
                                  shape_str({m, r}) + ", B " + shape_str({r, k}));
                 const float* bias_p = nullptr;
                 py::array bias;
                 if (!bias_obj.is_none()) {
                     bias = checked_array<float>(fn, "bias", bias_obj, {m});
                     bias_p = static_cast<const float*>(bias.data());
                 }
                 return SignEstimator(static_cast<const float*>(a.data()),
                                      static_cast<const float*>(b.data()), bias_p, m, r, k, tau);
             }),
             py::arg("A"), py::arg("B"), py::arg("bias") = py::none(), py::arg("tau") = 0.0f,
             "A (m, r), B (r, k), bias (m,) or None: float32, C-contiguous; copied once.")
        .def_property_readonly("m", &SignEstimator::m, "outputs of the layer")
        .def_property_readonly("k", &SignEstimator::k, "inputs of the layer")
        .def_property_readonly("rank", &SignEstimator::rank, "r, the rank of the estimate")
        .def_property("tau", &SignEstimator::tau, &SignEstimator::set_tau,
                      "threshold: row i is predicted active when its estimate is > tau")
        .def_property_readonly(
            "A",
            [](const SignEstimator& e) {
                py::array_t<float> a({e.m(), e.rank()});
                e.copy_a(a.mutable_data());
                return a;
            },
            "a copy of A (m, r)")
        .def_property_readonly(
            "B",
            [](const SignEstimator& e) {
                py::array_t<float> b({e.rank(), e.k()});
                e.copy_b(b.mutable_data());
                return b;
            },
            "a copy of B (r, k)")
        .def_property_readonly(
            "bias",
            [](const SignEstimator& e) {
                py::array_t<float> bias(e.m());
                e.copy_bias(bias.mutable_data());
                return bias;
            },
            "a copy of the bias (m,)")
        .def(
            "predict",
            [](const SignEstimator& e, const py::object& x_obj) {
                py::array x = checked_array<float>("SignEstimator.predict", "x", x_obj, {e.k()});
                const auto* xp = static_cast<const float*>(x.data());
                int32_t* rows = scratch<int32_t>(static_cast<size_t>(e.m()));
                float* u = scratch<float>(static_cast<size_t>(e.scratch_size()));
                int64_t count;
                {
                    py::gil_scoped_release release;
                    count = e.predict(xp, rows, u);
                }
                py::array_t<int32_t> out(count);
                std::copy_n(rows, count, out.mutable_data());
                return out;
            },
            py::arg("x"), "Rows predicted active for one sample x (k,): int32, ascending.")
        .def(
            "predict_batch",
            [](const SignEstimator& e, const py::object& x_obj, const py::object& out_obj) {
                const char* fn = "SignEstimator.predict_batch";
                py::array x = checked_array<float>(fn, "X", x_obj, {kAnyDim, e.k()});
                const int64_t n = x.shape(0);
                py::array out = out_obj.is_none()
                                    ? py::array_t<bool>({n, e.m()})
                                    : checked_array<bool>(fn, "out", out_obj, {n, e.m()}, true);
                check_no_alias(fn, out, {&x});
                const auto* xp = static_cast<const float*>(x.data());
                auto* mp = static_cast<uint8_t*>(out.mutable_data());
                float* u = scratch<float>(static_cast<size_t>(e.batch_scratch_size(n)));
                {
                    py::gil_scoped_release release;
                    e.predict_batch(xp, n, mp, u);
                }
                return out;
            },
            py::arg("X"), py::arg("out") = py::none(),
            "Mask (n, m) of rows predicted active for each sample of X (n, k): bool.");
}

}  // namespace ccinfer::bindings
