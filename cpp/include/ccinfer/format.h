#pragma once
/// The ccinfer model file (models/FORMAT.md): safetensors with a checked header, read in C++.
///
/// Reading is two steps, each refusing anything wrong with a FormatError (a
/// std::invalid_argument) whose message names the file and the problem:
///
///  1. read_model_file(): the container. An 8-byte little-endian header length, at most
///     kMaxHeaderBytes and within the buffer, checked before anything is allocated; the JSON
///     header parsed with nesting bounded by kMaxJsonDepth and duplicate keys refused; every
///     tensor entry exactly {dtype, shape, data_offsets} with dtype F32 or F16, non-negative
///     integer dims whose byte count equals its range; the ranges tiling the data section
///     exactly (no gap, no overlap, nothing after the last: what the safetensors library
///     checks for Python); `__metadata__` strings only, format "ccinfer", format_version an
///     ASCII integer in [1, kFormatVersion], a known model kind, a JSON-object config; every
///     value finite. Nothing is copied: the result points into the caller's bytes.
///  2. check_model(): the kind's config (exactly the keys of FORMAT.md, integers in range,
///     the widths chaining), every tensor it implies present with its exact shape and no
///     other tensor. build_model() then constructs the engine's objects.
///
/// Copies. The file's bytes are read where they lie (a caller's buffer, or the file mapped
/// read-only); no staging copy of the file is made. By default every kind then copies its
/// weights once into the layout its kernels read, and the buffer may be freed after loading.
///
/// Loading in place (build_model / load_model with in_place) keeps referencing the caller's
/// bytes where the compute layout is the file's layout: a CondMLP layer's W (m, k) row-major
/// and its bias, when stored F32 at an address aligned for float (the kernels load
/// unaligned, so 4 bytes is enough; results are bit for bit those of a copy). The caller then
/// keeps the bytes alive and unchanged until the model is destroyed. Everything else is a
/// copy, because the kernels read another layout:
///  - CondMLP's W^T (k, m) for input skipping, and the estimator's packed panels;
///  - TreeGated's table, re-laid node-major, and its gates;
///  - GRUStack: gate rows interleaved per unit, the token table transposed with the input
///    bias folded in, the low-rank / block gate matrices packed in panels;
///  - any F16 tensor, widened to float32 (GRU W_ih / W_hh stay float16 but are interleaved);
///  - an F32 tensor at an address not aligned for float (safetensors aligns nothing): read
///    with memcpy, never through a misaligned pointer.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ccinfer {
class CondMLP;
class TreeGatedLinear;
class GRUStack;
}  // namespace ccinfer

namespace ccinfer::format {

constexpr int kFormatVersion = 1;
/// A header is a few kB of JSON; anything near this is not a ccinfer model.
constexpr uint64_t kMaxHeaderBytes = uint64_t{16} << 20;
/// Deepest JSON nesting accepted in the header and in the config (a Sequential config is 5).
constexpr int kMaxJsonDepth = 32;
/// Widest layer accepted (sizes, hidden, rank, input and output sizes).
constexpr int64_t kMaxWidth = int64_t{1} << 20;

/// A malformed, truncated or hostile file.
class FormatError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

enum class Dtype : int { kF32 = 0, kF16 = 1 };

/// One tensor: its place in the caller's bytes (not necessarily aligned).
struct Tensor {
    std::string name;
    Dtype dtype = Dtype::kF32;
    std::vector<int64_t> shape;
    int64_t numel = 0;
    const uint8_t* data = nullptr;
    uint64_t nbytes = 0;
};

/// The checked contents of a file, pointing into the bytes it was read from.
struct ModelFile {
    std::string where;                        ///< the file name, or "<memory>", for messages
    std::string kind;                         ///< "CondMLP", "TreeGated", "Sequential", "GRUStack"
    std::string config_json;                  ///< the config, as stored
    std::map<std::string, std::string> card;  ///< "card.*" metadata, prefix removed
    std::vector<Tensor> tensors;              ///< sorted by name
    const Tensor* find(const std::string& name) const;
};

/// Step 1 on size bytes at data (which must outlive the result). Throws FormatError.
ModelFile read_model_file(const uint8_t* data, size_t size, const std::string& where);

/// The tensor's values as float32 (F16 widened exactly).
void read_floats(const Tensor& t, float* out);

/// The checked plan of a model: its config in typed form, the tensors it uses.
struct MlpPlan {
    std::vector<int64_t> sizes;
    struct Layer {
        const Tensor *weight = nullptr, *bias = nullptr, *est_a = nullptr, *est_b = nullptr;
        int64_t rank = 0;  ///< 0: no estimator
        float tau = 0.0f;
    };
    std::vector<Layer> layers;
    /// The saved plan (docs/format.md): a kernel name per layer and the batch-1 thread count;
    /// empty / -1 when the file has none (the model keeps its default plan).
    std::vector<std::string> kernels;
    int64_t single_sample_threads = -1;
};

struct TreePlan {
    int64_t p = 0, q = 0, depth = 0, nbits = 0;
    bool sliding = false, relu = false;
    int gates = 0;  ///< 0 none, 1 threshold, 2 projection (ccinfer::TreeGates)
    std::vector<int32_t> units;
    float tau = 0.0f;
    const Tensor *table = nullptr, *bias = nullptr, *gate_weight = nullptr, *gate_bias = nullptr;
};

struct StagePlan {
    bool tree = false;  ///< TreeGated, else CondMLP
    MlpPlan mlp;
    TreePlan tree_plan;
    bool relu = false;  ///< max(., 0) after the stage (Sequential)
    int64_t in = 0, out = 0;
};

struct GruPlan {
    bool tokens = false;
    int64_t input_size = 0, output_size = 0;
    struct Layer {
        int kind = 0;  ///< ccinfer::GruKind
        int64_t d = 0, h = 0, rank = 0;
        std::map<std::string, const Tensor*> arrays;  ///< "W_ih", "W_hh", ...
    };
    std::vector<Layer> layers;
    const Tensor *w_out = nullptr, *b_out = nullptr;
    bool half = false;  ///< every W_ih and W_hh stored F16: kept in float16
};

struct ModelPlan {
    std::string kind;
    std::vector<StagePlan> stages;  ///< CondMLP / TreeGated: one stage; Sequential: several
    GruPlan gru;                    ///< GRUStack
    int64_t input_size = 0, output_size = 0;
};

/// Step 2: the kind's config and tensors. Throws FormatError.
ModelPlan check_model(const ModelFile& file);

/// A model built from a plan (owns its weights).
struct Stage {
    std::unique_ptr<CondMLP> mlp;
    std::unique_ptr<TreeGatedLinear> tree;
    bool relu = false;
    int64_t in = 0, out = 0;
};

struct Model {
    Model();
    ~Model();
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    std::string kind;
    std::vector<Stage> stages;      ///< CondMLP, TreeGated, Sequential
    std::unique_ptr<GRUStack> gru;  ///< GRUStack
    int64_t input_size = 0, output_size = 0;
};

/// Constructs the engine's objects (copies the weights into their compute layouts; with
/// in_place, references what can be read where it lies: see "Copies" above).
Model build_model(const ModelPlan& plan, bool in_place = false);

/// read_model_file + check_model + build_model on a buffer (which may be freed afterwards,
/// unless in_place).
Model load_model(const uint8_t* data, size_t size, const std::string& where, bool in_place = false);

}  // namespace ccinfer::format
