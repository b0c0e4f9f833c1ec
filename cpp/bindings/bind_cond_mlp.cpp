// CondMLP: the whole conditional network in one C++ call per sample or batch.
#include <pybind11/stl.h>

#include <mutex>

#include "ccinfer/check.h"
#include "ccinfer/cond_mlp.h"
#include "checks.h"

namespace ccinfer::bindings {
namespace {

/// The engine plus one workspace; the mutex keeps two Python threads (the GIL is released
/// while computing) from sharing the workspace.
struct PyCondMLP {
    CondMLP model;
    MlpWorkspace ws;
    std::mutex mutex;

    explicit PyCondMLP(const std::vector<MlpLayerInit>& layers)
        : model(layers), ws(model.make_workspace(1)) {}
};

std::vector<MlpLayerInit> layers_from(const py::list& weights, const py::list& biases,
                                      const py::list& est_a, const py::list& est_b,
                                      const py::list& taus, std::vector<py::array>& keep) {
    const char* fn = "CondMLP";
    const size_t n = weights.size();
    if (n == 0) fail(fn, "needs at least one layer");
    if (biases.size() != n || est_a.size() != n || est_b.size() != n || taus.size() != n)
        fail(fn, "weights, biases, estimator factors and taus must have one entry per layer");
    std::vector<MlpLayerInit> layers;
    for (size_t l = 0; l < n; ++l) {
        const std::string tag = str("layer ", l);
        py::array w =
            checked_array<float>(fn, (tag + " weight").c_str(), weights[l], {kAnyDim, kAnyDim});
        const int64_t m = w.shape(0), k = w.shape(1);
        py::array b = checked_array<float>(fn, (tag + " bias").c_str(), biases[l], {m});
        MlpLayerInit init{static_cast<const float*>(w.data()), static_cast<const float*>(b.data()),
                          m, k};
        keep.push_back(w);
        keep.push_back(b);
        if (!est_a[l].is_none()) {
            py::array a =
                checked_array<float>(fn, (tag + " estimator A").c_str(), est_a[l], {m, kAnyDim});
            const int64_t r = a.shape(1);
            py::array bb =
                checked_array<float>(fn, (tag + " estimator B").c_str(), est_b[l], {r, k});
            init.est_a = static_cast<const float*>(a.data());
            init.est_b = static_cast<const float*>(bb.data());
            init.rank = r;
            init.tau = taus[l].cast<float>();
            keep.push_back(a);
            keep.push_back(bb);
        }
        layers.push_back(init);
    }
    return layers;
}

/// A layer index from Python: ValueError (not pybind's TypeError) for a negative or too
/// large one.
size_t layer_index(const char* fn, const PyCondMLP& p, const py::handle& obj) {
    const int64_t l = checked_int(fn, "layer", obj);
    CCINFER_CHECK(l >= 0 && l < static_cast<int64_t>(p.model.num_layers()), fn,
                  ": layer must be in [0, ", p.model.num_layers(), "), got ", l);
    return static_cast<size_t>(l);
}

py::dict stats_dict(const CondMLP& model, const MlpWorkspace& ws) {
    py::list layers;
    for (size_t l = 0; l < model.num_layers(); ++l) {
        const MlpLayerStats& s = ws.stats[l];
        py::dict d;
        d["samples"] = s.samples;
        d["rows_computed"] = s.rows_computed;
        d["inputs_nonzero"] = s.inputs_nonzero;
        d["macs"] = s.macs;
        d["actual_positive"] = s.actual_positive;
        d["true_positive"] = s.true_positive;
        layers.append(d);
    }
    py::dict out;
    out["layers"] = layers;
    out["track_accuracy"] = ws.track_accuracy;
    return out;
}

}  // namespace

void bind_cond_mlp(py::module_& m) {
    py::class_<PyCondMLP>(m, "CondMLP")
        .def(py::init([](const py::list& weights, const py::list& biases, const py::list& est_a,
                         const py::list& est_b, const py::list& taus) {
                 std::vector<py::array> keep;
                 return std::make_unique<PyCondMLP>(
                     layers_from(weights, biases, est_a, est_b, taus, keep));
             }),
             py::arg("weights"), py::arg("biases"), py::arg("est_a"), py::arg("est_b"),
             py::arg("taus"))
        .def_property_readonly("in_features", [](PyCondMLP& p) { return p.model.in_features(); })
        .def_property_readonly("out_features", [](PyCondMLP& p) { return p.model.out_features(); })
        .def_property_readonly("num_layers", [](PyCondMLP& p) { return p.model.num_layers(); })
        .def_property(
            "estimators_enabled", [](PyCondMLP& p) { return p.model.estimators_enabled(); },
            [](PyCondMLP& p, bool on) {
                std::lock_guard<std::mutex> lock(p.mutex);
                p.model.set_estimators_enabled(on);
            })
        .def_property(
            "track_accuracy", [](PyCondMLP& p) { return p.ws.track_accuracy; },
            [](PyCondMLP& p, bool on) {
                std::lock_guard<std::mutex> lock(p.mutex);
                p.ws.track_accuracy = on;
            })
        .def_property(
            "plan",
            [](PyCondMLP& p) {
                std::vector<std::string> names;
                for (LayerKernel k : p.model.plan()) names.emplace_back(layer_kernel_name(k));
                return names;
            },
            [](PyCondMLP& p, const std::vector<std::string>& names) {
                std::vector<LayerKernel> plan;
                for (const std::string& name : names) plan.push_back(parse_layer_kernel(name));
                std::lock_guard<std::mutex> lock(p.mutex);
                p.model.set_plan(plan);
            })
        .def_property(
            "single_sample_threads", [](PyCondMLP& p) { return p.model.single_sample_threads(); },
            [](PyCondMLP& p, int n) {
                std::lock_guard<std::mutex> lock(p.mutex);
                p.model.set_single_sample_threads(n);
            })
        .def("has_estimator",
             [](PyCondMLP& p, const py::object& layer) {
                 return p.model.has_estimator(layer_index("CondMLP.has_estimator", p, layer));
             })
        .def("set_tau",
             [](PyCondMLP& p, const py::object& layer, float tau) {
                 const size_t l = layer_index("CondMLP.set_tau", p, layer);
                 std::lock_guard<std::mutex> lock(p.mutex);
                 p.model.set_tau(l, tau);
             })
        .def("stats", [](PyCondMLP& p) { return stats_dict(p.model, p.ws); })
        .def("reset_stats",
             [](PyCondMLP& p) {
                 std::lock_guard<std::mutex> lock(p.mutex);
                 p.ws.stats.assign(p.model.num_layers(), MlpLayerStats{});
             })
        .def(
            "forward",
            [](PyCondMLP& p, const py::object& x_obj) {
                const char* fn = "CondMLP.forward";
                const int64_t in = p.model.in_features(), out = p.model.out_features();
                CCINFER_CHECK(py::isinstance<py::array>(x_obj), fn,
                              ": x must be a numpy.ndarray, float32 of shape (", in, ",) or (n, ",
                              in, "), got ", describe(x_obj));
                const bool single = py::reinterpret_borrow<py::array>(x_obj).ndim() == 1;
                py::array x = single ? checked_array<float>(fn, "x", x_obj, {in})
                                     : checked_array<float>(fn, "x", x_obj, {kAnyDim, in});
                const int64_t n = single ? 1 : x.shape(0);
                py::array y = single ? py::array_t<float>(out) : py::array_t<float>({n, out});
                const auto* xp = static_cast<const float*>(x.data());
                auto* yp = static_cast<float*>(y.mutable_data());
                {
                    py::gil_scoped_release release;
                    std::lock_guard<std::mutex> lock(p.mutex);
                    if (single) {
                        p.model.forward(xp, yp, p.ws);
                    } else {
                        if (p.ws.capacity < n) {
                            const bool track = p.ws.track_accuracy;
                            std::vector<MlpLayerStats> stats = p.ws.stats;
                            p.ws = p.model.make_workspace(n);
                            p.ws.track_accuracy = track;
                            p.ws.stats = stats;
                        }
                        if (n > 0) p.model.forward_batch(xp, n, yp, p.ws);
                    }
                }
                return y;
            },
            py::arg("x"), "Logits for x of shape (in,) or (n, in), float32 C-contiguous.")
        .def(
            "autotune",
            [](PyCondMLP& p, const py::object& x_obj, int repeats) {
                const char* fn = "CondMLP.autotune";
                py::array x =
                    checked_array<float>(fn, "X", x_obj, {kAnyDim, p.model.in_features()});
                if (x.shape(0) < 1) fail(fn, "X needs at least one sample");
                if (repeats < 1) fail(fn, "repeats must be >= 1");
                std::vector<std::vector<double>> seconds;
                {
                    py::gil_scoped_release release;
                    std::lock_guard<std::mutex> lock(p.mutex);
                    seconds =
                        p.model.autotune(static_cast<const float*>(x.data()), x.shape(0), repeats);
                }
                return seconds;
            },
            py::arg("X"), py::arg("repeats") = 5);
}

}  // namespace ccinfer::bindings
