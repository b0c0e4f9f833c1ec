// Step 2 of reading a model file: each kind's config and the tensors it implies
// (models/FORMAT.md; the same rules as the Python readers in mlp.py, tree.py, sequential.py
// and gru.py). Only sizes are read here; no weight is touched or copied.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ccinfer/cond_mlp.h"
#include "ccinfer/format.h"
#include "ccinfer/gru.h"
#include "ccinfer/tree_gated.h"
#include "format_internal.h"

namespace ccinfer::format {

using nlohmann::json;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "(";
    for (size_t i = 0; i < s.size(); ++i) out += str(i ? ", " : "", s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}

/// The reader of one model (or one stage of a Sequential): the file, the prefix of its
/// tensors' names ("stages.1." in a Sequential), and the context its messages start with
/// ("Sequential stage 1: "), as the Python readers word them.
class Reader {
  public:
    Reader(const ModelFile& file, std::string prefix, std::string context, std::string kind)
        : file_(file),
          prefix_(std::move(prefix)),
          context_(std::move(context)),
          kind_(std::move(kind)) {}

    const std::string& where() const { return file_.where; }
    std::string what(const std::string& field) const { return context_ + field; }

    template <typename... Parts>
    [[noreturn]] void fail(Parts&&... parts) const {
        format::fail(where(), context_, std::forward<Parts>(parts)...);
    }

    int64_t integer(const json& v, const std::string& field, int64_t lo, int64_t hi) const {
        return config_int(where(), v, what(field), lo, hi);
    }
    double number(const json& v, const std::string& field) const {
        return config_float(where(), v, what(field));
    }
    std::string choice(const json& v, const std::string& field,
                       std::initializer_list<const char*> choices) const {
        return config_str(where(), v, what(field), choices);
    }
    const json& list(const json& v, const std::string& field, int64_t lo, int64_t hi) const {
        return config_list(where(), v, what(field), lo, hi);
    }
    const json& object(const json& v, const std::string& field, std::vector<std::string> required,
                       std::vector<std::string> optional = {}, bool any_other = false) const {
        return config_object(where(), v, what(field), std::move(required), std::move(optional),
                             any_other);
    }

    /// A tensor the model needs, with its exact shape.
    const Tensor* require(const std::string& name, const std::vector<int64_t>& shape) {
        const Tensor* t = file_.find(prefix_ + name);
        if (!t) fail(kind_, " file is missing tensor ", short_repr(name));
        if (t->shape != shape)
            fail("tensor ", short_repr(name), " has shape ", shape_str(t->shape),
                 ", the config needs ", shape_str(shape));
        used_.insert(prefix_ + name);
        return t;
    }

    /// Unknown tensors under this reader's prefix mean a file from another tool or version.
    void no_extra() const {
        std::vector<std::string> extra;
        for (const Tensor& t : file_.tensors)
            if (t.name.compare(0, prefix_.size(), prefix_) == 0 && !used_.count(t.name) &&
                extra.size() < 5)
                extra.push_back(t.name.substr(prefix_.size()));
        if (!extra.empty()) fail(kind_, " file has unexpected tensors ", short_repr(json(extra)));
    }
    const std::set<std::string>& used() const { return used_; }

  private:
    const ModelFile& file_;
    std::string prefix_, context_, kind_;
    std::set<std::string> used_;
};

/// The plan autotune chose, if saved (mlp.py's _apply_plan): both keys or neither, a known
/// kernel per layer, a rows kernel only where the layer has an estimator, a thread count in
/// [0, 65536].
void check_saved_plan(const Reader& r, const json& cfg, MlpPlan& plan) {
    if (!cfg.contains("plan") && !cfg.contains("single_sample_threads")) return;
    const auto n = static_cast<int64_t>(plan.layers.size());
    const json kernels = cfg.contains("plan") ? cfg["plan"] : json();
    r.list(kernels, "CondMLP config 'plan'", n, n);
    for (int64_t i = 0; i < n; ++i)
        plan.kernels.push_back(r.choice(kernels[i], str("CondMLP config 'plan'[", i, "]"),
                                        {"dense", "rows", "input_sparse", "rows_input_sparse"}));
    plan.single_sample_threads =
        r.integer(cfg.contains("single_sample_threads") ? cfg["single_sample_threads"] : json(),
                  "CondMLP config 'single_sample_threads'", 0, 1 << 16);
    for (int64_t i = 0; i < n; ++i) {
        const LayerKernel kernel = parse_layer_kernel(plan.kernels[i]);
        const bool rows = kernel == LayerKernel::kRows || kernel == LayerKernel::kRowsInputSparse;
        if (rows && plan.layers[i].rank == 0)
            r.fail("CondMLP config 'plan' ", short_repr(json(plan.kernels)), " cannot run: layer ",
                   i, " has no estimator for its rows kernel");
    }
}

/// What the outputs mean (docs/format.md): used by the Python model's predict methods, not by
/// the engine (which computes the last layer's values), but checked here like every other
/// field, so a file is refused by the one reader all loads go through.
void check_output_spec(const Reader& r, const json& cfg, int64_t outputs) {
    const std::string activation =
        cfg.contains("output_activation")
            ? r.choice(cfg["output_activation"], "CondMLP config 'output_activation'",
                       {"identity", "softmax", "log_softmax", "sigmoid"})
            : "identity";
    const bool classifier =
        !cfg.contains("task") ||
        r.choice(cfg["task"], "CondMLP config 'task'", {"classifier", "regressor"}) == "classifier";
    if (!cfg.contains("classes") || cfg["classes"].is_null()) return;
    const json& classes = r.list(cfg["classes"], "CondMLP config 'classes'", 1, int64_t{1} << 20);
    if (!classifier) r.fail("CondMLP config classes: only a classifier has class labels");
    size_t strings = 0;
    for (size_t i = 0; i < classes.size(); ++i) {
        if (!classes[i].is_string() && !classes[i].is_number())
            r.fail("CondMLP config classes[", i, "]: labels must be strings or numbers, got ",
                   short_repr(classes[i]));
        strings += classes[i].is_string();
    }
    const int64_t needed = activation == "sigmoid" && outputs == 1 ? 2 : outputs;
    if (static_cast<int64_t>(classes.size()) != needed)
        r.fail("CondMLP config classes: ", needed, " labels needed for ", outputs, " ", activation,
               " output(s), got ", classes.size());
    if (strings != 0 && strings != classes.size())
        r.fail("CondMLP config classes: labels must be all strings or all numbers");
    if (std::set<json>(classes.begin(), classes.end()).size() != classes.size())
        r.fail("CondMLP config classes: labels must be distinct, got ", short_repr(classes));
}

constexpr int64_t kMaxLayers = 1024;

MlpPlan check_mlp(Reader& r, const json& config) {
    const json& cfg = r.object(
        config, "CondMLP config", {"sizes"},
        {"estimators", "plan", "single_sample_threads", "output_activation", "task", "classes"});
    const json& sizes = r.list(cfg["sizes"], "CondMLP config 'sizes'", 2, kMaxLayers + 1);
    MlpPlan plan;
    for (size_t i = 0; i < sizes.size(); ++i)
        plan.sizes.push_back(
            r.integer(sizes[i], str("CondMLP config 'sizes'[", i, "]"), 1, kMaxWidth));
    const auto n = static_cast<int64_t>(plan.sizes.size()) - 1;
    const json specs = cfg.contains("estimators") ? cfg["estimators"] : json(std::vector<json>(n));
    r.list(specs, "CondMLP config 'estimators'", n, n);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t m = plan.sizes[i + 1], k = plan.sizes[i];
        const std::string li = str("layers.", i, ".");
        MlpPlan::Layer L;
        L.weight = r.require(li + "weight", {m, k});
        L.bias = r.require(li + "bias", {m});
        if (!specs[i].is_null()) {
            const std::string where = str("CondMLP estimator ", i);
            const json& spec = r.object(specs[i], where, {"rank"}, {"tau"});
            L.rank = r.integer(spec["rank"], where + " 'rank'", 1, std::min(m, k));
            if (i + 1 == n) r.fail("CondMLP: the output layer cannot have an estimator");
            L.tau = spec.contains("tau")
                        ? static_cast<float>(r.number(spec["tau"], where + " 'tau'"))
                        : 0.0f;
            L.est_a = r.require(li + "estimator.A", {m, L.rank});
            L.est_b = r.require(li + "estimator.B", {L.rank, k});
        }
        plan.layers.push_back(L);
    }
    r.no_extra();
    check_output_spec(r, cfg, plan.sizes.back());
    check_saved_plan(r, cfg, plan);
    return plan;
}

TreePlan check_tree(Reader& r, const json& config) {
    const json& cfg =
        r.object(config, "TreeGated config",
                 {"in_features", "out_features", "depth", "path", "activation", "gates"});
    constexpr int64_t kMaxFeatures = kTreeMaxTableBytes / 4;
    TreePlan plan;
    plan.p = r.integer(cfg["in_features"], "TreeGated config 'in_features'", 1, kMaxFeatures);
    plan.q = r.integer(cfg["out_features"], "TreeGated config 'out_features'", 1, kMaxFeatures);
    plan.depth = r.integer(cfg["depth"], "TreeGated config 'depth'", 0, kTreeMaxDepth);
    try {
        check_tree_shape("tree_table_shape", plan.p, plan.q, plan.depth);
    } catch (const std::invalid_argument& e) {
        r.fail(e.what());
    }
    plan.sliding =
        r.choice(cfg["path"], "TreeGated config 'path'", {"shared", "sliding"}) == "sliding";
    plan.relu = r.choice(cfg["activation"], "TreeGated config 'activation'",
                         {"identity", "relu"}) == "relu";
    plan.table = r.require("table", {plan.p, tree_nodes(plan.depth), plan.q});
    plan.bias = r.require("bias", {plan.q});
    const json& gates = cfg["gates"];
    if (gates.is_null()) {
        if (plan.depth > 0) r.fail("TreeGated depth ", plan.depth, " needs 'gates'");
    } else {
        const std::string source =
            r.choice(r.object(gates, "TreeGated 'gates'", {"source"}, {}, true)["source"],
                     "TreeGated gates 'source'", {"threshold", "projection"});
        if (source == "threshold") {
            r.object(gates, "TreeGated threshold gates", {"source", "units", "tau"});
            const json& units = r.list(gates["units"], "TreeGated gates 'units'", 1, kTreeMaxBits);
            for (size_t i = 0; i < units.size(); ++i)
                plan.units.push_back(static_cast<int32_t>(
                    r.integer(units[i], str("TreeGated gates 'units'[", i, "]"), 0, plan.p - 1)));
            plan.tau = static_cast<float>(r.number(gates["tau"], "TreeGated gates 'tau'"));
            plan.gates = static_cast<int>(TreeGates::kThreshold);
            plan.nbits = static_cast<int64_t>(plan.units.size());
        } else {
            r.object(gates, "TreeGated projection gates", {"source", "bits"});
            plan.nbits = r.integer(gates["bits"], "TreeGated gates 'bits'", 1, kTreeMaxBits);
            plan.gates = static_cast<int>(TreeGates::kProjection);
            plan.gate_weight = r.require("gates.weight", {plan.nbits, plan.p});
            plan.gate_bias = r.require("gates.bias", {plan.nbits});
        }
    }
    r.no_extra();
    // The engine's own rules (nbits >= depth, G within the size limit, ...), sizes only.
    TreeGatedInit init;
    init.p = plan.p;
    init.q = plan.q;
    init.depth = plan.depth;
    init.gates = static_cast<TreeGates>(plan.gates);
    init.nbits = plan.nbits;
    init.gate_units = plan.units.empty() ? nullptr : plan.units.data();
    init.tau = plan.tau;
    // Presence only: the check reads no weight.
    init.table = reinterpret_cast<const float*>(plan.table->data);
    if (plan.gate_weight) init.gate_weight = reinterpret_cast<const float*>(plan.gate_weight->data);
    try {
        check_tree_gated("TreeGatedLinear", init);
    } catch (const std::invalid_argument& e) {
        r.fail(e.what());
    }
    return plan;
}

GruPlan check_gru(Reader& r, const json& config) {
    const json& cfg =
        r.object(config, "GRUStack config", {"input", "input_size", "output_size", "layers"});
    GruPlan plan;
    plan.tokens =
        r.choice(cfg["input"], "GRUStack config 'input'", {"tokens", "vector"}) == "tokens";
    plan.input_size = r.integer(cfg["input_size"], "GRUStack config 'input_size'", 1, kMaxWidth);
    plan.output_size = r.integer(cfg["output_size"], "GRUStack config 'output_size'", 1, kMaxWidth);
    const json& specs = r.list(cfg["layers"], "GRUStack config 'layers'", 1, kMaxLayers);
    int64_t d = plan.input_size;
    for (size_t i = 0; i < specs.size(); ++i) {
        const std::string where = str("GRUStack layer ", i);
        const std::string kind = r.choice(r.object(specs[i], where, {"kind"}, {}, true)["kind"],
                                          where, {"dense", "lowrank", "block"});
        const char* rkey = kind == "lowrank" ? "rank" : kind == "block" ? "gating" : nullptr;
        std::vector<std::string> keys = {"kind", "hidden"};
        if (rkey) keys.push_back(rkey);
        const json& spec = r.object(specs[i], str(where, " (", kind, ")"), keys);
        GruPlan::Layer L;
        L.kind = kind == "dense" ? 0 : kind == "lowrank" ? 1 : 2;
        L.h = r.integer(spec["hidden"], where + " 'hidden'", 1, kMaxWidth);
        if (rkey) L.rank = r.integer(spec[rkey], str(where, " '", rkey, "'"), 1, kMaxWidth);
        if (L.kind == 2 && L.h % L.rank)
            r.fail(where, ": gating ", L.rank, " does not divide hidden ", L.h);
        L.d = d;
        // The arrays of each kind are the core's schema (gru.h), written once.
        for (const GruTensorSpec& t : gru_layer_tensors(parse_gru_kind(kind), d, L.h, L.rank))
            L.arrays[t.name] = r.require(str("layers.", i, ".", t.name), t.shape);
        d = L.h;
        plan.layers.push_back(std::move(L));
    }
    plan.w_out = r.require("output.weight", {plan.output_size, d});
    plan.b_out = r.require("output.bias", {plan.output_size});
    r.no_extra();
    plan.half = true;
    for (const auto& L : plan.layers)
        plan.half = plan.half && L.arrays.at("W_ih")->dtype == Dtype::kF16 &&
                    L.arrays.at("W_hh")->dtype == Dtype::kF16;
    return plan;
}

StagePlan check_stage(Reader& r, const std::string& kind, const json& cfg) {
    StagePlan stage;
    stage.tree = kind == "TreeGated";
    if (stage.tree) {
        stage.tree_plan = check_tree(r, cfg);
        stage.in = stage.tree_plan.p;
        stage.out = stage.tree_plan.q;
    } else {
        stage.mlp = check_mlp(r, cfg);
        stage.in = stage.mlp.sizes.front();
        stage.out = stage.mlp.sizes.back();
    }
    return stage;
}

}  // namespace

ModelPlan check_model(const ModelFile& file) {
    const json cfg =
        parse_json(file.config_json.data(), file.config_json.data() + file.config_json.size(),
                   file.where, "metadata 'config'");
    ModelPlan plan;
    plan.kind = file.kind;
    if (file.kind == "GRUStack") {
        Reader r(file, "", "", file.kind);
        plan.gru = check_gru(r, cfg);
        plan.input_size = plan.gru.input_size;
        plan.output_size = plan.gru.output_size;
        return plan;
    }
    if (file.kind != "Sequential") {
        Reader r(file, "", "", file.kind);
        plan.stages.push_back(check_stage(r, file.kind, cfg));
    } else {
        Reader top(file, "", "", file.kind);
        const json& stages = top.list(top.object(cfg, "Sequential config", {"stages"})["stages"],
                                      "Sequential config 'stages'", 1, kMaxLayers);
        std::set<std::string> used;
        for (size_t i = 0; i < stages.size(); ++i) {
            const std::string where = str("Sequential stage ", i);
            const json& spec = top.object(stages[i], where, {"kind", "config", "relu"});
            const std::string kind =
                top.choice(spec["kind"], where + " 'kind'", {"CondMLP", "TreeGated"});
            top.object(spec["config"], where + " 'config'", {}, {}, true);
            const bool relu = config_bool(file.where, spec["relu"], where + " 'relu'");
            Reader r(file, str("stages.", i, "."), where + ": ", kind);
            StagePlan stage = check_stage(r, kind, spec["config"]);
            stage.relu = relu;
            if (!plan.stages.empty() && plan.stages.back().out != stage.in)
                fail(file.where, "Sequential: stage ", i, " takes ", stage.in,
                     " inputs but the previous stage gives ", plan.stages.back().out);
            used.insert(r.used().begin(), r.used().end());
            plan.stages.push_back(std::move(stage));
        }
        std::vector<std::string> extra;
        for (const Tensor& t : file.tensors)
            if (!used.count(t.name) && extra.size() < 5) extra.push_back(t.name);
        CCINFER_FORMAT_CHECK(extra.empty(), file.where, "Sequential file has unexpected tensors ",
                             short_repr(json(extra)));
    }
    plan.input_size = plan.stages.front().in;
    plan.output_size = plan.stages.back().out;
    return plan;
}

}  // namespace ccinfer::format
