// Step 3 of loading: the engine's objects from a checked plan. Each constructor copies its
// weights once into its compute layout (ccinfer/format.h, "Copies"); here a tensor is handed
// over where it lies when its bytes are float32 and aligned for float, and through one
// temporary otherwise (F16 widened, or a misaligned F32 range). Loading in place, a CondMLP
// layer whose weight and bias are handed over where they lie keeps referencing them.
#include <cstring>
#include <list>
#include <vector>

#include "ccinfer/cond_mlp.h"
#include "ccinfer/format.h"
#include "ccinfer/gru.h"
#include "ccinfer/tree_gated.h"
#include "format_internal.h"

namespace ccinfer::format {

Model::Model() = default;
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

namespace {

/// float32 views of tensors, valid while the Floats lives.
class Floats {
  public:
    /// Whether t's bytes are read as float32 where they lie (F32, aligned for float).
    static bool direct(const Tensor* t) {
        return t->dtype == Dtype::kF32 &&
               reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0;
    }
    const float* operator()(const Tensor* t) {
        if (t == nullptr) return nullptr;
        if (direct(t)) return reinterpret_cast<const float*>(t->data);
        temps_.emplace_back(static_cast<size_t>(t->numel));
        read_floats(*t, temps_.back().data());
        return temps_.back().data();
    }
    const uint16_t* half(const Tensor* t) {
        if (reinterpret_cast<uintptr_t>(t->data) % alignof(uint16_t) == 0)
            return reinterpret_cast<const uint16_t*>(t->data);
        halves_.emplace_back(static_cast<size_t>(t->numel));
        std::memcpy(halves_.back().data(), t->data, t->nbytes);
        return halves_.back().data();
    }

  private:
    std::list<std::vector<float>> temps_;
    std::list<std::vector<uint16_t>> halves_;
};

std::unique_ptr<CondMLP> build_mlp(const MlpPlan& plan, Floats& f, bool in_place) {
    std::vector<MlpLayerInit> layers;
    for (size_t i = 0; i < plan.layers.size(); ++i) {
        const MlpPlan::Layer& L = plan.layers[i];
        MlpLayerInit init{f(L.weight), f(L.bias), plan.sizes[i + 1], plan.sizes[i]};
        init.in_place = in_place && Floats::direct(L.weight) && Floats::direct(L.bias);
        if (L.rank) {
            init.est_a = f(L.est_a);
            init.est_b = f(L.est_b);
            init.rank = L.rank;
            init.tau = L.tau;
        }
        layers.push_back(init);
    }
    auto model = std::make_unique<CondMLP>(layers);
    if (!plan.kernels.empty()) {
        std::vector<LayerKernel> kernels;
        for (const std::string& k : plan.kernels) kernels.push_back(parse_layer_kernel(k));
        model->set_plan(kernels);
        model->set_single_sample_threads(static_cast<int>(plan.single_sample_threads));
    }
    return model;
}

std::unique_ptr<TreeGatedLinear> build_tree(const TreePlan& plan, Floats& f) {
    TreeGatedInit init;
    init.p = plan.p;
    init.q = plan.q;
    init.depth = plan.depth;
    init.table = f(plan.table);
    init.bias = f(plan.bias);
    init.path = plan.sliding ? TreePath::kSliding : TreePath::kShared;
    init.gates = static_cast<TreeGates>(plan.gates);
    init.nbits = plan.nbits;
    init.gate_units = plan.units.empty() ? nullptr : plan.units.data();
    init.tau = plan.tau;
    init.gate_weight = f(plan.gate_weight);
    init.gate_bias = f(plan.gate_bias);
    init.relu = plan.relu;
    return std::make_unique<TreeGatedLinear>(init);
}

std::unique_ptr<GRUStack> build_gru(const GruPlan& plan, Floats& f) {
    std::vector<GruLayerInit> layers;
    for (const GruPlan::Layer& L : plan.layers) {
        auto get = [&](const char* name) {
            auto it = L.arrays.find(name);
            return it == L.arrays.end() ? nullptr : f(it->second);
        };
        GruLayerInit init;
        init.kind = static_cast<GruKind>(L.kind);
        init.d = L.d;
        init.h = L.h;
        init.rank = L.rank;
        if (plan.half) {
            init.w_ih_f16 = f.half(L.arrays.at("W_ih"));
            init.w_hh_f16 = f.half(L.arrays.at("W_hh"));
        } else {
            init.w_ih = get("W_ih");
            init.w_hh = get("W_hh");
        }
        init.b_ih = get("b_ih");
        init.b_hh = get("b_hh");
        init.w_zl = get("W_zl");
        init.u_zl = get("U_zl");
        init.b_zl = get("b_zl");
        init.w_z = get("W_z");
        init.b_z = get("b_z");
        init.z_scale = get("z_scale");
        init.z_shift = get("z_shift");
        layers.push_back(init);
    }
    return std::make_unique<GRUStack>(layers, plan.tokens, f(plan.w_out), f(plan.b_out),
                                      plan.output_size);
}

}  // namespace

Model build_model(const ModelPlan& plan, bool in_place) {
    Model model;
    model.kind = plan.kind;
    model.input_size = plan.input_size;
    model.output_size = plan.output_size;
    Floats f;
    if (plan.kind == "GRUStack") {
        model.gru = build_gru(plan.gru, f);
        return model;
    }
    for (const StagePlan& s : plan.stages) {
        Stage stage;
        if (s.tree)
            stage.tree = build_tree(s.tree_plan, f);
        else
            stage.mlp = build_mlp(s.mlp, f, in_place);
        stage.relu = s.relu;
        stage.in = s.in;
        stage.out = s.out;
        model.stages.push_back(std::move(stage));
    }
    return model;
}

Model load_model(const uint8_t* data, size_t size, const std::string& where, bool in_place) {
    const ModelFile file = read_model_file(data, size, where);
    return build_model(check_model(file), in_place);
}

}  // namespace ccinfer::format
