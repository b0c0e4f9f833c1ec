// GRUStack: one time step of the whole stack per call; states are separate objects so many
// streams share one set of weights. Workspaces come from a pool, one per concurrent call, so
// several Python threads can step different streams at once with the GIL released.
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ccinfer/check.h"
#include "ccinfer/finite.h"
#include "ccinfer/gru.h"
#include "ccinfer/sizes.h"
#include "ccinfer/threads.h"
#include "checks.h"

namespace ccinfer::bindings {
namespace {

/// The model and its workspace pool (which keeps the stats of every step).
struct PyGRUStack {
    std::unique_ptr<GRUStack> model;
    std::unique_ptr<GruWorkspacePool> pool;
};

/// A layer index from Python: ValueError (not pybind's TypeError) for a negative or too
/// large one.
size_t layer_index(const char* fn, const GRUState& s, const py::handle& obj) {
    const int64_t l = checked_int(fn, "layer", obj);
    if (l < 0 || l >= static_cast<int64_t>(s.num_layers()))
        fail(fn, str("layer must be in [0, ", s.num_layers(), "), got ", l));
    return static_cast<size_t>(l);
}

/// A layer array of the schema (1-D or 2-D) checked as T: ValueError naming it when it is
/// missing or of another shape or dtype.
template <typename T>
py::array schema_array(const char* fn, const GruTensorSpec& t, const py::object& obj) {
    CCINFER_DCHECK(t.shape.size() == 1 || t.shape.size() == 2);
    return t.shape.size() == 1 ? checked_array<T>(fn, t.name, obj, {t.shape[0]})
                               : checked_array<T>(fn, t.name, obj, {t.shape[0], t.shape[1]});
}

py::object schema_entry(const char* fn, const py::dict& arrays, const GruTensorSpec& t) {
    if (!arrays.contains(t.name)) fail(fn, std::string("missing array ") + t.name);
    return arrays[t.name];
}

/// The layer's arrays, as its kind's schema lists them (gru_layer_tensors), into `in`. W_ih
/// and W_hh may both come as float16: the layer keeps them in half precision.
void layer_arrays(const char* fn, const py::dict& a, GruLayerInit& in,
                  std::vector<py::array>& keep) {
    const std::vector<GruTensorSpec> specs = gru_layer_tensors(in.kind, in.d, in.h, in.rank);
    for (const GruTensorSpec& t : specs) {
        if (!t.half_field) continue;
        const py::object obj = schema_entry(fn, a, t);
        if (!py::isinstance<py::array>(obj) ||
            !has_dtype(py::reinterpret_borrow<py::array>(obj), py::dtype("float16")))
            continue;
        keep.push_back(schema_array<uint16_t>(fn, t, obj.attr("view")("uint16")));
        in.*t.half_field = static_cast<const uint16_t*>(keep.back().data());
    }
    if (!in.w_ih_f16 != !in.w_hh_f16) fail(fn, "W_ih and W_hh must both be float16 or float32");
    for (const GruTensorSpec& t : specs) {
        if (t.half_field && in.*t.half_field) continue;
        keep.push_back(schema_array<float>(fn, t, schema_entry(fn, a, t)));
        in.*t.field = static_cast<const float*>(keep.back().data());
    }
}

std::unique_ptr<PyGRUStack> make_stack(const py::list& layers, bool token_input, int64_t input_size,
                                       const py::object& w_out_obj, const py::object& b_out_obj) {
    const char* fn = "GRUStack";
    std::vector<py::array> keep;
    std::vector<GruLayerInit> inits;
    int64_t d = input_size;
    for (size_t l = 0; l < layers.size(); ++l) {
        const py::dict spec = layers[l].cast<py::dict>();
        GruLayerInit in;
        in.kind = parse_gru_kind(spec["kind"].cast<std::string>());
        in.d = d;
        in.h = spec["hidden"].cast<int64_t>();
        // rank: None for a dense layer.
        const bool ranked = spec.contains("rank") && !spec["rank"].is_none();
        in.rank = ranked ? spec["rank"].cast<int64_t>() : 0;
        if (in.h < 1 || (ranked && in.rank < 1))
            fail(fn, str("layer ", l, ": hidden and rank must be >= 1"));
        layer_arrays(fn, spec["arrays"].cast<py::dict>(), in, keep);
        inits.push_back(in);
        d = in.h;
    }
    if (inits.empty()) fail(fn, "needs at least one layer");
    py::array w_out = checked_array<float>(fn, "W_out", w_out_obj, {kAnyDim, d});
    const int64_t v_out = w_out.shape(0);
    py::array b_out = checked_array<float>(fn, "b_out", b_out_obj, {v_out});
    auto p = std::make_unique<PyGRUStack>();
    {
        py::gil_scoped_release release;  // the layout copies of large weights take a while
        p->model =
            std::make_unique<GRUStack>(inits, token_input, static_cast<const float*>(w_out.data()),
                                       static_cast<const float*>(b_out.data()), v_out);
    }
    p->pool = std::make_unique<GruWorkspacePool>(*p->model);
    return p;
}

constexpr int kStatePickleVersion = 1;

/// The pickled form of a state: (version, batch, [h of each layer, (batch, hidden) float32]).
py::tuple state_tuple(const GRUState& s) {
    GRUState::Lock lock("GRUState.__getstate__", s, false);
    py::list h;
    for (size_t l = 0; l < s.num_layers(); ++l) {
        py::array_t<float> a({s.batch(), s.hidden(l)});
        std::memcpy(a.mutable_data(), s.h(l), sizeof(float) * s.batch() * s.hidden(l));
        h.append(a);
    }
    py::list steps;
    for (int64_t k : s.steps()) steps.append(k);
    return py::make_tuple(kStatePickleVersion, s.batch(), h, steps);
}

/// A detached GRUState from its pickled (version, batch, [h of each layer], [steps of each
/// stream]), every part checked
/// before the state is allocated.
std::unique_ptr<GRUState> restore_state(const py::tuple& t) {
    const char* fn = "GRUState.__setstate__";
    // The version first: a pickle from another version may have another layout.
    if (t.size() >= 1 && py::isinstance<py::int_>(t[0]) &&
        checked_int(fn, "version", t[0]) != kStatePickleVersion)
        fail(fn, str("pickle version ", checked_int(fn, "version", t[0]),
                     " is not supported (this ccinfer reads version ", kStatePickleVersion, ")"));
    if (t.size() != 4 || !py::isinstance<py::int_>(t[0]) || !py::isinstance<py::int_>(t[1]) ||
        !py::isinstance<py::list>(t[2]) || !py::isinstance<py::list>(t[3]))
        fail(fn,
             "expected (version, batch, [h per layer], [steps per stream]), got " + describe(t));
    const int64_t n = checked_int(fn, "batch", t[1]);
    const auto layers = t[2].cast<py::list>();
    if (n < 1 || layers.empty())
        fail(fn, str("a state needs batch >= 1 and at least one layer, got batch ", n, " and ",
                     layers.size(), " layers"));
    std::vector<py::array> arrays;
    std::vector<int64_t> widths;
    for (size_t l = 0; l < layers.size(); ++l) {
        const std::string name = str("h[", l, "]");
        arrays.push_back(checked_array<float>(fn, name.c_str(), layers[l], {n, kAnyDim}));
        widths.push_back(arrays.back().shape(1));
        if (widths.back() < 1) fail(fn, name + " has no units");
        check_finite(fn, name.c_str(), static_cast<const float*>(arrays.back().data()),
                     arrays.back().size(), widths.back());
    }
    const auto counts = t[3].cast<py::list>();
    if (static_cast<int64_t>(counts.size()) != n)
        fail(fn, str("expected a step count per stream (", n, "), got ", counts.size()));
    std::vector<int64_t> steps;
    for (const auto& c : counts) {
        steps.push_back(checked_int(fn, "steps", c));
        if (steps.back() < 0) fail(fn, "a step count must be >= 0");
    }
    auto state = GRUState::detached(n, widths, std::move(steps));
    for (size_t l = 0; l < arrays.size(); ++l)
        std::memcpy(state->h(l), arrays[l].data(), sizeof(float) * n * widths[l]);
    return state;
}

GRUState& checked_state(const char* fn, const py::handle& obj) {
    if (!py::isinstance<GRUState>(obj))
        fail(fn, "state must be a GRUState from new_state(), got " + describe(obj));
    return obj.cast<GRUState&>();
}

py::array token_array(const char* fn, const char* name, const py::handle& obj) {
    return checked_array<int32_t>(fn, name, obj, {kAnyDim});
}

}  // namespace

void bind_gru(py::module_& m) {
    // The layer schema, written once in the core (gru_layer_tensors): python/ccinfer/gru.py
    // reads the kinds and their arrays from here.
    m.def(
        "_gru_layer_tensors",
        [](const std::string& kind, int64_t d, int64_t h, int64_t r) {
            py::list out;
            for (const GruTensorSpec& t : gru_layer_tensors(parse_gru_kind(kind), d, h, r))
                out.append(py::make_tuple(t.name, py::tuple(py::cast(t.shape))));
            return out;
        },
        py::arg("kind"), py::arg("d"), py::arg("h"), py::arg("rank"),
        "The arrays of a GRU layer of `kind` (dense, lowrank, block): [(name, shape)] in order, "
        "for input width d, h units and rank / gating `rank` (ignored by dense).");
    py::list kinds;
    for (GruKind kind : kGruKinds) kinds.append(gru_kind_name(kind));
    m.attr("_GRU_KINDS") = py::tuple(kinds);
    py::class_<GRUState, std::unique_ptr<GRUState>>(
        m, "GRUState",
        "The recurrent state of one or more streams of one GRUStack (make it with "
        "GRUStack.new_state). Opaque: read or set it with get_h/set_h. A step (or a whole "
        "run) holds it; get_h, steps, copy, set_h, reset and copy_stream during one raise "
        "ValueError instead of seeing or changing part of a step. Pickles as its arrays and "
        "step counts; the unpickled state is bound by the first model of its layer widths "
        "that steps it.")
        .def_property_readonly("batch", &GRUState::batch, "streams held")
        .def_property_readonly("num_layers", &GRUState::num_layers)
        .def_property_readonly(
            "steps",
            [](const GRUState& s) -> py::object {
                const std::vector<int64_t> steps = s.steps();
                if (s.batch() == 1) return py::int_(steps[0]);
                py::array_t<int64_t> out(s.batch());
                std::copy(steps.begin(), steps.end(), out.mutable_data());
                return std::move(out);
            },
            "Steps applied since new_state() or reset(): an int for a one-stream state, an "
            "int64 array (batch,) for a batch state (a batch step adds one to every stream; "
            "copy_stream copies a stream's count with its state; set_h keeps it).")
        .def(
            "reset", [](GRUState& s) { s.reset(); }, "Zero every layer and every step count.")
        .def(
            "copy", [](const GRUState& s) { return s.clone(); }, "An independent copy.")
        .def(
            "get_h",
            [](const GRUState& s, const py::object& layer) {
                const size_t l = layer_index("GRUState.get_h", s, layer);
                py::array_t<float> out({s.batch(), s.hidden(l)});
                s.get_h(l, out.mutable_data());
                return out;
            },
            py::arg("layer"), "A copy of layer `layer`'s state, (batch, hidden) float32.")
        .def(
            "set_h",
            [](GRUState& s, const py::object& layer, const py::object& value) {
                const char* fn = "GRUState.set_h";
                const size_t l = layer_index(fn, s, layer);
                py::array a = checked_array<float>(fn, "h", value, {s.batch(), s.hidden(l)});
                s.set_h(l, static_cast<const float*>(a.data()));
            },
            py::arg("layer"), py::arg("h"),
            "Set layer `layer`'s state from h, (batch, hidden) float32, finite (a NaN or an "
            "infinity is a ValueError).")
        .def(
            "copy_stream",
            [](GRUState& s, const GRUState& src, const py::object& from, const py::object& to) {
                const char* fn = "GRUState.copy_stream";
                s.copy_stream(src, checked_int(fn, "src_index", from),
                              checked_int(fn, "index", to));
            },
            py::arg("src"), py::arg("src_index"), py::arg("index"),
            "Copy stream src_index of src (its state and step count) into stream index of "
            "this state.")
        // copy.copy stays bound to the state's model, like copy(). A pickle carries only the
        // arrays, and deepcopy is the same round trip (so deepcopy((model, state)) gives a
        // pair that works together): the new state is bound by the first model that fits it.
        .def("__copy__", [](const GRUState& s) { return s.clone(); })
        .def("__deepcopy__",
             [](const GRUState& s, const py::object&) { return restore_state(state_tuple(s)); })
        .def(py::pickle([](const GRUState& s) { return state_tuple(s); },
                        [](const py::tuple& t) { return restore_state(t); }));

    py::class_<PyGRUStack>(m, "GRUStack")
        .def(py::init(&make_stack), py::arg("layers"), py::arg("token_input"),
             py::arg("input_size"), py::arg("W_out"), py::arg("b_out"))
        .def_property_readonly("token_input", [](PyGRUStack& p) { return p.model->token_input(); })
        .def_property_readonly("input_size", [](PyGRUStack& p) { return p.model->input_size(); })
        .def_property_readonly("output_size", [](PyGRUStack& p) { return p.model->output_size(); })
        .def_property_readonly("num_layers", [](PyGRUStack& p) { return p.model->num_layers(); })
        .def_property_readonly("dense_macs", [](PyGRUStack& p) { return p.model->dense_macs(); })
        .def(
            "new_state",
            [](PyGRUStack& p, const py::object& n) {
                return p.model->new_state(checked_int("GRUStack.new_state", "batch", n));
            },
            py::arg("batch") = 1)
        .def("stats",
             [](PyGRUStack& p) {
                 py::list out;
                 for (const GruLayerStats& s : p.pool->stats()) {
                     py::dict d;
                     d["samples"] = s.samples;
                     d["z_active"] = s.z_active;
                     d["rows_skipped"] = s.rows_skipped;
                     d["macs"] = s.macs;
                     out.append(d);
                 }
                 return out;
             })
        .def("reset_stats", [](PyGRUStack& p) { p.pool->reset_stats(); })
        .def(
            "step_token",
            [](PyGRUStack& p, const py::object& state_obj, int64_t token) {
                const char* fn = "GRUStack.step";
                GRUState& state = checked_state(fn, state_obj);
                if (token < 0 || token >= p.model->input_size())
                    fail(fn, str("token id ", token, " is out of range [0, ", p.model->input_size(),
                                 ")"));
                py::array_t<float> out(p.model->output_size());
                float* o = out.mutable_data();
                {
                    py::gil_scoped_release release;
                    GruWorkspacePool::Lease ws(*p.pool, 1);
                    p.model->step(static_cast<int32_t>(token), state, o, ws.get());
                }
                return out;
            },
            py::arg("state"), py::arg("token"))
        .def(
            "step_vector",
            [](PyGRUStack& p, const py::object& state_obj, const py::object& x_obj) {
                const char* fn = "GRUStack.step";
                GRUState& state = checked_state(fn, state_obj);
                py::array x = checked_array<float>(fn, "x", x_obj, {p.model->input_size()});
                py::array_t<float> out(p.model->output_size());
                const auto* xp = static_cast<const float*>(x.data());
                float* o = out.mutable_data();
                {
                    py::gil_scoped_release release;
                    GruWorkspacePool::Lease ws(*p.pool, 1);
                    p.model->step(xp, state, o, ws.get());
                }
                return out;
            },
            py::arg("state"), py::arg("x"))
        .def(
            "step_batch",
            [](PyGRUStack& p, const py::object& state_obj, const py::object& x_obj) {
                const char* fn = "GRUStack.step";
                GRUState& state = checked_state(fn, state_obj);
                const bool tokens = p.model->token_input();
                py::array x =
                    tokens ? token_array(fn, "X", x_obj)
                           : checked_array<float>(fn, "X", x_obj, {kAnyDim, p.model->input_size()});
                const int64_t n = x.shape(0);
                if (n != state.batch())
                    fail(fn, str("state holds ", state.batch(), " stream(s), X has ", n));
                check_alloc(str(fn, ": logits of ", n, " streams"), n, p.model->output_size(),
                            sizeof(float));
                py::array_t<float> out({n, p.model->output_size()});
                const void* xp = x.data();
                float* o = out.mutable_data();
                {
                    py::gil_scoped_release release;
                    GruWorkspacePool::Lease ws(*p.pool, n);
                    if (tokens)
                        p.model->step_batch(static_cast<const int32_t*>(xp), state, o, ws.get());
                    else
                        p.model->step_batch(static_cast<const float*>(xp), state, o, ws.get());
                }
                return out;
            },
            py::arg("state"), py::arg("X"))
        .def(
            "run",
            [](PyGRUStack& p, const py::object& state_obj, const py::object& x_obj) {
                const char* fn = "GRUStack.run";
                GRUState& state = checked_state(fn, state_obj);
                const bool tokens = p.model->token_input();
                py::array x = tokens ? token_array(fn, "sequence", x_obj)
                                     : checked_array<float>(fn, "sequence", x_obj,
                                                            {kAnyDim, p.model->input_size()});
                const int64_t T = x.shape(0), V = p.model->output_size();
                check_alloc(str(fn, ": logits of ", T, " steps"), T, V, sizeof(float));
                py::array_t<float> out({T, V});
                const void* xp = x.data();
                float* o = out.mutable_data();
                {
                    py::gil_scoped_release release;
                    GruWorkspacePool::Lease ws(*p.pool, 1);
                    if (tokens)
                        p.model->run(static_cast<const int32_t*>(xp), T, state, o, ws.get());
                    else
                        p.model->run(static_cast<const float*>(xp), T, state, o, ws.get());
                }
                return out;
            },
            py::arg("state"), py::arg("sequence"),
            "Logits (T, V_out) of every step of one stream's sequence, in one call: all or "
            "nothing (see GRUStack::run).");
    // The size check every allocation from caller input goes through (ccinfer/sizes.h), for
    // the Python layer's own buffers (token id conversion, generate's output).
    m.def(
        "_check_alloc",
        [](const std::string& what, const py::object& a, const py::object& b, size_t elem) {
            check_alloc(what, checked_int(what.c_str(), "count", a),
                        checked_int(what.c_str(), "count", b), elem);
        },
        py::arg("what"), py::arg("count_a"), py::arg("count_b"), py::arg("elem_size"));
}

}  // namespace ccinfer::bindings
