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
#include "ccinfer/tree_gated.h"
#include "format_internal.h"

namespace ccinfer::format {

using nlohmann::json;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "(";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}

/// Checks the set of keys of a JSON object.
bool keys_are(const json& obj, std::initializer_list<const char*> keys) {
    if (!obj.is_object() || obj.size() != keys.size()) return false;
    for (const char* k : keys)
        if (!obj.contains(k)) return false;
    return true;
}

/// Tensors a kind's reader claims; the rest must not exist.
class Claims {
  public:
    Claims(const ModelFile& file, std::string prefix, std::string kind)
        : file_(file), prefix_(std::move(prefix)), kind_(std::move(kind)) {}

    const Tensor* require(const std::string& name, const std::vector<int64_t>& shape) {
        const std::string full = prefix_ + name;
        const Tensor* t = file_.find(full);
        if (!t) fail(file_.where, kind_ + " file is missing tensor '" + full + "'");
        if (t->shape != shape)
            fail(file_.where, "tensor '" + full + "' has shape " + shape_str(t->shape) +
                                  ", the config needs " + shape_str(shape));
        used_.insert(full);
        return t;
    }
    const std::set<std::string>& used() const { return used_; }

  private:
    const ModelFile& file_;
    std::string prefix_, kind_;
    std::set<std::string> used_;
};

void no_extra(const ModelFile& file, const std::string& kind, const std::set<std::string>& used) {
    std::string extra;
    int n = 0;
    for (const Tensor& t : file.tensors)
        if (!used.count(t.name) && n++ < 5) extra += (extra.empty() ? "'" : ", '") + t.name + "'";
    if (n) fail(file.where, kind + " file has unexpected tensors [" + extra + "]");
}

/// The plan autotune chose, if saved: both keys or neither, a known kernel per layer, a rows
/// kernel only where the layer has an estimator, a thread count in [0, 65536].
void check_saved_plan(const std::string& w, const json& cfg, MlpPlan& plan) {
    if (!cfg.contains("plan") && !cfg.contains("single_sample_threads")) return;
    const size_t n = plan.layers.size();
    const json& kernels = cfg.contains("plan") ? cfg["plan"] : json();
    if (!kernels.is_array() || kernels.size() != n)
        fail(w, "CondMLP config 'plan' must be a list of " + std::to_string(n) + " entries, got " +
                    excerpt(kernels));
    for (size_t i = 0; i < n; ++i) {
        const json& k = kernels[i];
        LayerKernel kernel = LayerKernel::kDense;
        try {
            if (!k.is_string()) throw std::invalid_argument("not a string");
            kernel = parse_layer_kernel(k.get<std::string>());
        } catch (const std::invalid_argument&) {
            fail(w, "CondMLP config 'plan'[" + std::to_string(i) +
                        "] must be one of "
                        "['dense', 'rows', 'input_sparse', 'rows_input_sparse'], got " +
                        excerpt(k));
        }
        const bool rows = kernel == LayerKernel::kRows || kernel == LayerKernel::kRowsInputSparse;
        if (rows && plan.layers[i].rank == 0)
            fail(w, "CondMLP config 'plan' cannot run: layer " + std::to_string(i) +
                        " has no estimator for its rows kernel");
        plan.kernels.push_back(k.get<std::string>());
    }
    const json& threads =
        cfg.contains("single_sample_threads") ? cfg["single_sample_threads"] : json();
    if (!get_int(threads, 0, 1 << 16, plan.single_sample_threads))
        fail(w, "CondMLP config 'single_sample_threads' must be an integer in [0, 65536], got " +
                    excerpt(threads));
}

/// What the outputs mean (docs/format.md): used by the Python model's predict methods, not by
/// the engine (which computes the last layer's values), but checked by the same rules as
/// mlp.py's reader so that both accept the same files.
void check_output_spec(const std::string& w, const json& cfg, int64_t outputs) {
    std::string activation = "identity";
    if (cfg.contains("output_activation")) {
        const json& a = cfg["output_activation"];
        static const std::set<std::string> known = {"identity", "softmax", "log_softmax",
                                                    "sigmoid"};
        if (!a.is_string() || !known.count(a.get<std::string>()))
            fail(w,
                 "CondMLP config 'output_activation' must be one of ['identity', 'softmax', "
                 "'log_softmax', 'sigmoid'], got " +
                     excerpt(a));
        activation = a.get<std::string>();
    }
    bool classifier = true;
    if (cfg.contains("task")) {
        const json& t = cfg["task"];
        if (!t.is_string() || (t != "classifier" && t != "regressor"))
            fail(w, "CondMLP config 'task' must be one of ['classifier', 'regressor'], got " +
                        excerpt(t));
        classifier = t == "classifier";
    }
    if (!cfg.contains("classes") || cfg["classes"].is_null()) return;
    const json& classes = cfg["classes"];
    if (!classes.is_array() || classes.empty() || classes.size() > (size_t{1} << 20))
        fail(w, "CondMLP config 'classes' must be a list of 1 to 1048576 entries, got " +
                    excerpt(classes));
    if (!classifier) fail(w, "CondMLP config classes: only a classifier has class labels");
    size_t strings = 0;
    for (size_t i = 0; i < classes.size(); ++i) {
        if (!classes[i].is_string() && !classes[i].is_number())
            fail(w, "CondMLP config classes[" + std::to_string(i) +
                        "]: labels must be strings or numbers, got " + excerpt(classes[i]));
        strings += classes[i].is_string();
    }
    const int64_t needed = activation == "sigmoid" && outputs == 1 ? 2 : outputs;
    if (static_cast<int64_t>(classes.size()) != needed)
        fail(w, "CondMLP config classes: " + std::to_string(needed) + " labels needed for " +
                    std::to_string(outputs) + " " + activation + " output(s), got " +
                    std::to_string(classes.size()));
    if (strings != 0 && strings != classes.size())
        fail(w, "CondMLP config classes: labels must be all strings or all numbers");
    if (std::set<json>(classes.begin(), classes.end()).size() != classes.size())
        fail(w, "CondMLP config classes: labels must be distinct, got " + excerpt(classes));
}

MlpPlan check_mlp(const ModelFile& file, const json& cfg, Claims& claims) {
    const std::string& w = file.where;
    const std::string sizes_rule =
        "CondMLP config 'sizes' must be a list of at least two widths in [1, 2^20], got ";
    // Keys beyond these are refused: a newer writer's field must not be silently ignored.
    for (auto& [k, v] : cfg.items())
        if (k != "sizes" && k != "estimators" && k != "plan" && k != "single_sample_threads" &&
            k != "output_activation" && k != "task" && k != "classes")
            fail(w, "CondMLP config has the unknown key " + json(k).dump());
    if (!cfg.contains("sizes")) fail(w, sizes_rule + "None");
    const json& sizes = cfg["sizes"];
    MlpPlan plan;
    if (!sizes.is_array() || sizes.size() < 2 || sizes.size() > 4097)
        fail(w, sizes_rule + excerpt(sizes));
    for (const json& s : sizes) {
        int64_t v = 0;
        if (!get_int(s, 1, kMaxWidth, v)) fail(w, sizes_rule + excerpt(sizes));
        plan.sizes.push_back(v);
    }
    const size_t n = plan.sizes.size() - 1;
    json specs = cfg.contains("estimators") ? cfg["estimators"] : json(std::vector<json>(n));
    if (!specs.is_array() || specs.size() != n)
        fail(w, "CondMLP config 'estimators' needs " + std::to_string(n) + " entries, got " +
                    excerpt(specs));
    for (size_t i = 0; i < n; ++i) {
        const int64_t m = plan.sizes[i + 1], k = plan.sizes[i];
        const std::string li = "layers." + std::to_string(i) + ".";
        MlpPlan::Layer L;
        L.weight = claims.require(li + "weight", {m, k});
        L.bias = claims.require(li + "bias", {m});
        const json& spec = specs[i];
        if (!spec.is_null()) {
            const bool shape_ok = spec.is_object() && spec.contains("rank") &&
                                  (spec.size() == 1 || (spec.size() == 2 && spec.contains("tau")));
            const bool tau_ok =
                !shape_ok || !spec.contains("tau") ||
                (spec["tau"].is_number() && std::isfinite(spec["tau"].get<double>()));
            int64_t r = 0;
            if (!shape_ok || !tau_ok || !get_int(spec["rank"], INT64_MIN, INT64_MAX, r))
                fail(w, "estimator " + std::to_string(i) +
                            " must be {'rank': int, 'tau': finite float}, got " + excerpt(spec));
            if (i + 1 == n) fail(w, "CondMLP: the output layer cannot have an estimator");
            if (r < 1 || r > std::min(m, k))
                fail(w, "estimator " + std::to_string(i) + " rank " + std::to_string(r) +
                            " is out of [1, " + std::to_string(std::min(m, k)) + "]");
            L.rank = r;
            L.tau = spec.contains("tau") ? static_cast<float>(spec["tau"].get<double>()) : 0.0f;
            L.est_a = claims.require(li + "estimator.A", {m, r});
            L.est_b = claims.require(li + "estimator.B", {r, k});
        }
        plan.layers.push_back(L);
    }
    check_output_spec(w, cfg, plan.sizes.back());
    check_saved_plan(w, cfg, plan);
    return plan;
}

TreePlan check_tree(const ModelFile& file, const json& cfg, Claims& claims) {
    const std::string& w = file.where;
    if (!keys_are(cfg, {"in_features", "out_features", "depth", "path", "activation", "gates"}))
        fail(w,
             "TreeGated config needs exactly the keys ['activation', 'depth', 'gates', "
             "'in_features', 'out_features', 'path'], got " +
                 excerpt(cfg));
    TreePlan plan;
    const struct {
        const char* name;
        int64_t low;
        int64_t* out;
    } ints[] = {
        {"in_features", 1, &plan.p}, {"out_features", 1, &plan.q}, {"depth", 0, &plan.depth}};
    for (const auto& e : ints)
        if (!get_int(cfg[e.name], e.low, INT64_MAX, *e.out))
            fail(w, std::string("TreeGated ") + e.name + " must be an int >= " +
                        std::to_string(e.low) + ", got " + excerpt(cfg[e.name]));
    try {
        check_tree_shape("TreeGated", plan.p, plan.q, plan.depth);
    } catch (const std::invalid_argument& e) {
        fail(w, e.what());
    }
    const json &path = cfg["path"], &act = cfg["activation"];
    if (!(path == "shared" || path == "sliding") || !(act == "identity" || act == "relu"))
        fail(w,
             "TreeGated path must be one of ('shared', 'sliding') and activation one of "
             "('identity', 'relu'), got " +
                 excerpt(path) + ", " + excerpt(act));
    plan.sliding = path == "sliding";
    plan.relu = act == "relu";
    plan.table = claims.require("table", {plan.p, tree_nodes(plan.depth), plan.q});
    plan.bias = claims.require("bias", {plan.q});
    const json& gates = cfg["gates"];
    if (gates.is_null()) {
        if (plan.depth > 0)
            fail(w, "TreeGated depth " + std::to_string(plan.depth) + " needs 'gates'");
    } else if (!gates.is_object() || !gates.contains("source") ||
               !(gates["source"] == "threshold" || gates["source"] == "projection")) {
        fail(w,
             "TreeGated 'gates' must be null or an object with source 'threshold' or "
             "'projection', got " +
                 excerpt(gates));
    } else if (gates["source"] == "threshold") {
        const bool ok = keys_are(gates, {"source", "units", "tau"}) && gates["units"].is_array() &&
                        gates["units"].size() <= static_cast<size_t>(kTreeMaxBits) &&
                        gates["tau"].is_number() && std::isfinite(gates["tau"].get<double>());
        if (ok) {
            for (const json& u : gates["units"]) {
                int64_t v = 0;
                if (!get_int(u, 0, plan.p - 1, v))
                    fail(w, "threshold gate unit " + excerpt(u) + " is not an int in [0, " +
                                std::to_string(plan.p) + ")");
                plan.units.push_back(static_cast<int32_t>(v));
            }
        }
        if (!ok)
            fail(w, "threshold gates need {'source', 'units': [int, ...], 'tau': float}, got " +
                        excerpt(gates));
        plan.gates = static_cast<int>(TreeGates::kThreshold);
        plan.nbits = static_cast<int64_t>(plan.units.size());
        plan.tau = static_cast<float>(gates["tau"].get<double>());
    } else {
        int64_t nbits = 0;
        if (!keys_are(gates, {"source", "bits"}) || !get_int(gates["bits"], 1, kTreeMaxBits, nbits))
            fail(w, "projection gates need {'source', 'bits': int in [1, 65536]}, got " +
                        excerpt(gates));
        plan.gates = static_cast<int>(TreeGates::kProjection);
        plan.nbits = nbits;
        plan.gate_weight = claims.require("gates.weight", {nbits, plan.p});
        plan.gate_bias = claims.require("gates.bias", {nbits});
    }
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
        check_tree_gated("TreeGated", init);
    } catch (const std::invalid_argument& e) {
        fail(w, e.what());
    }
    return plan;
}

GruPlan check_gru(const ModelFile& file, const json& cfg, Claims& claims) {
    const std::string& w = file.where;
    auto bad = [&](const std::string& what) { fail(w, "GRUStack config " + what); };
    GruPlan plan;
    if (!cfg.contains("input") || !(cfg["input"] == "tokens" || cfg["input"] == "vector"))
        bad("'input' must be 'tokens' or 'vector', got " +
            (cfg.contains("input") ? excerpt(cfg["input"]) : "None"));
    plan.tokens = cfg["input"] == "tokens";
    for (const char* key : {"input_size", "output_size"}) {
        int64_t v = 0;
        if (!cfg.contains(key) || !get_int(cfg[key], 1, kMaxWidth, v))
            bad(std::string("'") + key + "' must be an int in [1, 2^20], got " +
                (cfg.contains(key) ? excerpt(cfg[key]) : "None"));
        (std::string(key) == "input_size" ? plan.input_size : plan.output_size) = v;
    }
    if (!cfg.contains("layers") || !cfg["layers"].is_array() || cfg["layers"].empty() ||
        cfg["layers"].size() > 1024)
        bad("'layers' must be a non-empty list, got " +
            (cfg.contains("layers") ? excerpt(cfg["layers"]) : "None"));
    for (auto& [k, v] : cfg.items())
        if (k != "input" && k != "input_size" && k != "output_size" && k != "layers")
            bad("has unknown keys ['" + k + "']");
    int64_t d = plan.input_size;
    int i = 0;
    for (const json& spec : cfg["layers"]) {
        const std::string li = "layer " + std::to_string(i);
        if (!spec.is_object() || !spec.contains("kind") ||
            !(spec["kind"] == "dense" || spec["kind"] == "lowrank" || spec["kind"] == "block"))
            bad(li +
                " must be {'kind': one of ('dense', 'lowrank', 'block'), 'hidden': int, "
                "...}, got " +
                excerpt(spec));
        const std::string kind = spec["kind"].get<std::string>();
        const char* rkey = kind == "lowrank" ? "rank" : kind == "block" ? "gating" : nullptr;
        if (!(rkey ? keys_are(spec, {"kind", "hidden", rkey}) : keys_are(spec, {"kind", "hidden"})))
            bad(li + " (" + kind + ") needs exactly the keys ['hidden', 'kind'" +
                (rkey ? std::string(", '") + rkey + "'" : "") + "], got " + excerpt(spec));
        GruPlan::Layer L;
        L.kind = kind == "dense" ? 0 : kind == "lowrank" ? 1 : 2;
        if (!get_int(spec["hidden"], 1, kMaxWidth, L.h))
            bad(li + " 'hidden' must be an int in [1, 2^20], got " + excerpt(spec["hidden"]));
        if (rkey && !get_int(spec[rkey], 1, kMaxWidth, L.rank))
            bad(li + " '" + rkey + "' must be an int in [1, 2^20], got " + excerpt(spec[rkey]));
        if (L.kind == 2 && L.h % L.rank)
            bad(li + ": gating " + std::to_string(L.rank) + " does not divide hidden " +
                std::to_string(L.h));
        L.d = d;
        const int64_t g = L.kind == 0 ? 3 : 2, h = L.h, r = L.rank;
        std::vector<std::pair<const char*, std::vector<int64_t>>> shapes = {
            {"W_ih", {g * h, d}}, {"W_hh", {g * h, h}}, {"b_ih", {g * h}}, {"b_hh", {g * h}}};
        if (L.kind != 0) {
            shapes.push_back({"W_zl", {r, d}});
            shapes.push_back({"U_zl", {r, h}});
            shapes.push_back({"b_zl", {r}});
        }
        if (L.kind == 1) {
            shapes.push_back({"W_z", {h, r}});
            shapes.push_back({"b_z", {h}});
        } else if (L.kind == 2) {
            shapes.push_back({"z_scale", {r}});
            shapes.push_back({"z_shift", {r}});
        }
        for (auto& [name, shape] : shapes)
            L.arrays[name] = claims.require("layers." + std::to_string(i) + "." + name, shape);
        plan.layers.push_back(std::move(L));
        d = h;
        ++i;
    }
    plan.w_out = claims.require("output.weight", {plan.output_size, d});
    plan.b_out = claims.require("output.bias", {plan.output_size});
    plan.half = true;
    for (const auto& L : plan.layers)
        plan.half = plan.half && L.arrays.at("W_ih")->dtype == Dtype::kF16 &&
                    L.arrays.at("W_hh")->dtype == Dtype::kF16;
    return plan;
}

StagePlan check_stage(const ModelFile& file, const std::string& kind, const json& cfg,
                      Claims& claims) {
    StagePlan stage;
    stage.tree = kind == "TreeGated";
    if (stage.tree) {
        stage.tree_plan = check_tree(file, cfg, claims);
        stage.in = stage.tree_plan.p;
        stage.out = stage.tree_plan.q;
    } else {
        stage.mlp = check_mlp(file, cfg, claims);
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
        Claims claims(file, "", file.kind);
        plan.gru = check_gru(file, cfg, claims);
        no_extra(file, file.kind, claims.used());
        plan.input_size = plan.gru.input_size;
        plan.output_size = plan.gru.output_size;
        return plan;
    }
    if (file.kind != "Sequential") {
        Claims claims(file, "", file.kind);
        plan.stages.push_back(check_stage(file, file.kind, cfg, claims));
        no_extra(file, file.kind, claims.used());
    } else {
        if (!keys_are(cfg, {"stages"}) || !cfg["stages"].is_array() || cfg["stages"].empty() ||
            cfg["stages"].size() > 1024)
            fail(file.where, "Sequential config must be {'stages': [...]} with at least one stage");
        std::set<std::string> used;
        int i = 0;
        for (const json& spec : cfg["stages"]) {
            if (!keys_are(spec, {"kind", "config", "relu"}) ||
                !(spec["kind"] == "CondMLP" || spec["kind"] == "TreeGated") ||
                !spec["config"].is_object() || !spec["relu"].is_boolean())
                fail(file.where, "Sequential stage " + std::to_string(i) +
                                     " must be {'kind': one of ['CondMLP', 'TreeGated'], "
                                     "'config': {...}, 'relu': bool}, got " +
                                     excerpt(spec));
            const std::string kind = spec["kind"].get<std::string>();
            Claims claims(file, "stages." + std::to_string(i) + ".", kind);
            StagePlan stage = check_stage(file, kind, spec["config"], claims);
            stage.relu = spec["relu"].get<bool>();
            if (!plan.stages.empty() && plan.stages.back().out != stage.in)
                fail(file.where, "Sequential: stage " + std::to_string(i) + " takes " +
                                     std::to_string(stage.in) +
                                     " inputs but the previous stage "
                                     "gives " +
                                     std::to_string(plan.stages.back().out));
            used.insert(claims.used().begin(), claims.used().end());
            plan.stages.push_back(std::move(stage));
            ++i;
        }
        no_extra(file, "Sequential", used);
    }
    plan.input_size = plan.stages.front().in;
    plan.output_size = plan.stages.back().out;
    return plan;
}

}  // namespace ccinfer::format
