// TreeGatedLinear: the tree-gated layer of Cho & Bengio (2014) in one C++ call per sample or
// batch.
#include <pybind11/stl.h>

#include <mutex>

#include "ccinfer/check.h"
#include "ccinfer/threads.h"
#include "ccinfer/tree_gated.h"
#include "checks.h"

namespace ccinfer::bindings {
namespace {

/// The layer plus one workspace; the mutex keeps two Python threads (the GIL is released
/// while computing) from sharing the workspace.
struct PyTreeGated {
    TreeGatedLinear layer;
    TreeWorkspace ws;
    std::mutex mutex;

    explicit PyTreeGated(const TreeGatedInit& init)
        : layer(init), ws(layer.make_workspace(get_num_threads())) {}

    /// Enough scratch slots for the current thread count (call with the mutex held).
    void fit_threads() {
        const int threads = get_num_threads();
        if (static_cast<int>(ws.slots.size()) < threads) {
            const TreeGatedStats stats = ws.stats;
            ws = layer.make_workspace(threads);
            ws.stats = stats;
        }
    }
};

/// Depth k of a table with `nodes` = 2^(k+1) - 1 nodes per unit, or a ValueError.
int64_t depth_of(const char* fn, int64_t nodes) {
    for (int64_t k = 0; k <= kTreeMaxDepth; ++k)
        if (tree_nodes(k) == nodes) return k;
    throw std::invalid_argument(
        str(fn, ": table must have shape (p, 2^(k+1) - 1, q) with k in [0, ", kTreeMaxDepth,
            "]: 1, 3, 7, 15, ... nodes per unit, got ", nodes));
}

std::unique_ptr<PyTreeGated> make_layer(const py::object& table_obj, const py::object& bias_obj,
                                        const std::string& path, const py::object& units_obj,
                                        float tau, const py::object& weight_obj,
                                        const py::object& gbias_obj,
                                        const std::string& activation) {
    const char* fn = "TreeGatedLinear";
    if (!py::isinstance<py::array>(table_obj))
        fail(fn, "table must be a numpy.ndarray, float32 of shape (p, 2^(k+1) - 1, q), got " +
                     describe(table_obj));
    // Shape and size limits first: nothing is allocated before every check has passed.
    const py::array raw = py::reinterpret_borrow<py::array>(table_obj);
    if (raw.ndim() != 3)
        fail(fn, "table must have shape (p, 2^(k+1) - 1, q), got " +
                     shape_str(std::vector<int64_t>(raw.shape(), raw.shape() + raw.ndim())));
    TreeGatedInit init;
    init.depth = depth_of(fn, raw.shape(1));
    py::array table =
        checked_array<float>(fn, "table", table_obj, {kAnyDim, tree_nodes(init.depth), kAnyDim});
    init.p = table.shape(0);
    init.q = table.shape(2);
    check_tree_shape(fn, init.p, init.q, init.depth);
    init.table = static_cast<const float*>(table.data());
    py::array bias;
    if (!bias_obj.is_none()) {
        bias = checked_array<float>(fn, "bias", bias_obj, {init.q});
        init.bias = static_cast<const float*>(bias.data());
    }
    if (path == "shared")
        init.path = TreePath::kShared;
    else if (path == "sliding")
        init.path = TreePath::kSliding;
    else
        fail(fn, "path must be 'shared' or 'sliding', got '" + path + "'");
    if (activation == "relu")
        init.relu = true;
    else if (activation != "identity")
        fail(fn, "activation must be 'identity' or 'relu', got '" + activation + "'");
    if (!units_obj.is_none() && !weight_obj.is_none())
        fail(fn, "give gate_units (threshold gates) or gate_weight (projection gates), not both");
    py::array units, weight, gbias;
    if (!units_obj.is_none()) {
        units = checked_array<int32_t>(fn, "gate_units", units_obj, {kAnyDim});
        init.gates = TreeGates::kThreshold;
        init.nbits = units.shape(0);
        init.gate_units = static_cast<const int32_t*>(units.data());
        init.tau = tau;
    } else if (!weight_obj.is_none()) {
        weight = checked_array<float>(fn, "gate_weight", weight_obj, {kAnyDim, init.p});
        init.gates = TreeGates::kProjection;
        init.nbits = weight.shape(0);
        init.gate_weight = static_cast<const float*>(weight.data());
        if (!gbias_obj.is_none()) {
            gbias = checked_array<float>(fn, "gate_bias", gbias_obj, {init.nbits});
            init.gate_bias = static_cast<const float*>(gbias.data());
        }
    }
    if (init.gates != TreeGates::kProjection && !gbias_obj.is_none())
        fail(fn, "gate_bias needs gate_weight");
    check_tree_gated(fn, init);  // std::invalid_argument -> ValueError
    return std::make_unique<PyTreeGated>(init);
}

}  // namespace

void bind_tree_gated(py::module_& m) {
    m.def(
        "tree_table_shape",
        [](int64_t p, int64_t q, int64_t depth) {
            check_tree_shape("tree_table_shape", p, q, depth);
            return py::make_tuple(p, tree_nodes(depth), q);
        },
        py::arg("p"), py::arg("q"), py::arg("depth"),
        "(p, 2^(k+1) - 1, q) after checking the depth and size limits (ValueError); allocates "
        "nothing.");
    m.attr("TREE_MAX_DEPTH") = kTreeMaxDepth;
    m.attr("TREE_MAX_TABLE_BYTES") = kTreeMaxTableBytes;

    py::class_<PyTreeGated>(m, "TreeGatedLinear")
        .def(py::init(&make_layer), py::arg("table"), py::arg("bias"), py::arg("path"),
             py::arg("gate_units"), py::arg("tau"), py::arg("gate_weight"), py::arg("gate_bias"),
             py::arg("activation"))
        .def_property_readonly("in_features", [](PyTreeGated& t) { return t.layer.in_features(); })
        .def_property_readonly("out_features",
                               [](PyTreeGated& t) { return t.layer.out_features(); })
        .def_property_readonly("depth", [](PyTreeGated& t) { return t.layer.depth(); })
        .def_property_readonly("num_bits", [](PyTreeGated& t) { return t.layer.nbits(); })
        .def("stats",
             [](PyTreeGated& t) {
                 std::lock_guard<std::mutex> lock(t.mutex);
                 py::dict d;
                 d["samples"] = t.ws.stats.samples;
                 d["inputs_nonzero"] = t.ws.stats.inputs_nonzero;
                 d["node_rows"] = t.ws.stats.node_rows;
                 return d;
             })
        .def("reset_stats",
             [](PyTreeGated& t) {
                 std::lock_guard<std::mutex> lock(t.mutex);
                 t.ws.stats = TreeGatedStats{};
             })
        .def(
            "forward",
            [](PyTreeGated& t, const py::object& x_obj) {
                const char* fn = "TreeGatedLinear";
                const int64_t p = t.layer.in_features(), q = t.layer.out_features();
                CCINFER_CHECK(py::isinstance<py::array>(x_obj), fn,
                              ": x must be a numpy.ndarray, float32 of shape (", p, ",) or (n, ", p,
                              "), got ", describe(x_obj));
                const bool single = py::reinterpret_borrow<py::array>(x_obj).ndim() == 1;
                py::array x = single ? checked_array<float>(fn, "x", x_obj, {p})
                                     : checked_array<float>(fn, "x", x_obj, {kAnyDim, p});
                const int64_t n = single ? 1 : x.shape(0);
                py::array y = single ? py::array_t<float>(q) : py::array_t<float>({n, q});
                const auto* xp = static_cast<const float*>(x.data());
                auto* yp = static_cast<float*>(y.mutable_data());
                {
                    py::gil_scoped_release release;
                    std::lock_guard<std::mutex> lock(t.mutex);
                    t.fit_threads();
                    if (single)
                        t.layer.forward(xp, yp, t.ws);
                    else
                        t.layer.forward_batch(xp, n, yp, t.ws);
                }
                return y;
            },
            py::arg("x"), "h = phi(...) for x of shape (p,) or (n, p), float32 C-contiguous.")
        .def(
            "gates",
            [](PyTreeGated& t, const py::object& x_obj) {
                const char* fn = "TreeGatedLinear.gates";
                const int64_t p = t.layer.in_features(), nb = t.layer.nbits();
                py::array x = checked_array<float>(fn, "x", x_obj, {kAnyDim, p});
                const int64_t n = x.shape(0);
                py::array_t<bool> bits({n, nb});
                const auto* xp = static_cast<const float*>(x.data());
                auto* bp = reinterpret_cast<uint8_t*>(bits.mutable_data());
                py::gil_scoped_release release;
                std::lock_guard<std::mutex> lock(t.mutex);
                for (int64_t i = 0; i < n; ++i) t.layer.gate_bits(xp + i * p, bp + i * nb, t.ws);
                return bits;
            },
            py::arg("X"), "The gating bits (n, nbits) bool of the samples X (n, p).");
}

}  // namespace ccinfer::bindings
