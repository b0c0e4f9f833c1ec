// What every layer kind shares: the checks and layout of W_ih, W_hh and their biases, the kind
// names, and the one switch on the kind (make_gru_layer).
#include "gru_layer.h"

#include <algorithm>
#include <cstring>

#include "ccinfer/check.h"
#include "ccinfer/half.h"
#include "ccinfer/sizes.h"
#include "ccinfer/weight_stream.h"

namespace ccinfer {

const char* gru_kind_name(GruKind kind) {
    switch (kind) {
        case GruKind::kDense:
            return "dense";
        case GruKind::kLowRank:
            return "lowrank";
        case GruKind::kBlock:
            return "block";
    }
    return "unknown";
}

GruKind parse_gru_kind(const std::string& name) {
    for (GruKind kind : kGruKinds)
        if (name == gru_kind_name(kind)) return kind;
    CCINFER_CHECK(false, "GRUStack: unknown layer kind '", name,
                  "', expected dense, lowrank or block");
    return GruKind::kDense;
}

std::vector<GruTensorSpec> gru_layer_tensors(GruKind kind, int64_t d, int64_t h, int64_t r) {
    switch (kind) {
        case GruKind::kDense:
            return detail::dense_tensors(d, h);
        case GruKind::kLowRank:
            return detail::lowrank_tensors(d, h, r);
        case GruKind::kBlock:
            return detail::block_tensors(d, h, r);
    }
    CCINFER_CHECK(false, "GRUStack: unknown layer kind ", static_cast<int>(kind));
    return {};
}

namespace detail {

std::vector<GruTensorSpec> gate_tensors(int64_t G, int64_t d, int64_t h) {
    return {{"W_ih", {G * h, d}, &GruLayerInit::w_ih, &GruLayerInit::w_ih_f16},
            {"W_hh", {G * h, h}, &GruLayerInit::w_hh, &GruLayerInit::w_hh_f16},
            {"b_ih", {G * h}, &GruLayerInit::b_ih},
            {"b_hh", {G * h}, &GruLayerInit::b_hh}};
}

namespace {

// Unit-interleaved copy of a (G h, k) matrix given gate-major: stored row G i + g = given
// row g h + i.
template <typename W>
AlignedBuffer<W> interleave_rows(const W* src, int64_t G, int64_t h, int64_t k) {
    AlignedBuffer<W> out(checked_mul(G * h, k, "GRUStack: a layer matrix"));
    for (int64_t i = 0; i < h; ++i)
        for (int64_t g = 0; g < G; ++g)
            std::memcpy(out.data() + (G * i + g) * k, src + (g * h + i) * k, sizeof(W) * k);
    return out;
}

// Token input: W_ih (G h, V) transposed to (V, G h), unit-interleaved, with b_ih added (the
// row of token t is then W_ih[:, t] + b_ih, rounded once). Always float32 (it is small).
template <typename W>
AlignedBuffer<float> lookup_table(const W* w_ih, const float* b_ih, int64_t G, int64_t h,
                                  int64_t V) {
    AlignedBuffer<float> out(checked_mul(V, G * h, "GRUStack: the token lookup table"));
    for (int64_t t = 0; t < V; ++t)
        for (int64_t i = 0; i < h; ++i)
            for (int64_t g = 0; g < G; ++g)
                out[t * G * h + G * i + g] = widen(w_ih[(g * h + i) * V + t]) + b_ih[g * h + i];
    return out;
}

// A unit-interleaved copy of a bias (G h) given gate-major.
AlignedBuffer<float> interleave_bias(const float* b, int64_t G, int64_t h) {
    AlignedBuffer<float> out(G * h);
    for (int64_t i = 0; i < h; ++i)
        for (int64_t g = 0; g < G; ++g) out[G * i + g] = b[g * h + i];
    return out;
}

}  // namespace

void GruLayer::check_common(const GruLayerInit& in, const std::string& where) {
    CCINFER_CHECK(in.d >= 1 && in.h >= 1, where, "input and hidden widths must be >= 1");
    const bool half = in.w_ih_f16 || in.w_hh_f16;
    CCINFER_CHECK(half ? in.w_ih_f16 && in.w_hh_f16 : in.w_ih && in.w_hh, where,
                  "missing W_ih/W_hh (half precision needs both)");
    CCINFER_CHECK(in.b_ih && in.b_hh, where, "missing b_ih/b_hh");
}

GruLayer::GruLayer(const GruLayerInit& in, bool lookup, int64_t gates, const std::string&)
    : kind_(in.kind),
      d_(in.d),
      h_(in.h),
      rank_(gates == 3 ? 0 : in.rank),
      G_(gates),
      lookup_(lookup),
      b_ih_(interleave_bias(in.b_ih, gates, in.h)),
      b_hh_(interleave_bias(in.b_hh, gates, in.h)) {
    if (in.w_ih_f16) {
        w_hh16_ = interleave_rows(in.w_hh_f16, G_, h_, h_);
        if (lookup_)
            w_ih_ = lookup_table(in.w_ih_f16, in.b_ih, G_, h_, d_);
        else
            w_ih16_ = interleave_rows(in.w_ih_f16, G_, h_, d_);
    } else {
        w_hh_ = interleave_rows(in.w_hh, G_, h_, h_);
        w_ih_ = lookup_ ? lookup_table(in.w_ih, in.b_ih, G_, h_, d_)
                        : interleave_rows(in.w_ih, G_, h_, d_);
    }
}

PanelReads GruLayer::panel_reads(const BatchStep& b) const {
    const int64_t in = in_width(), m = G_ * h_, k_max = std::max(in, h_);
    const bool streamed = worth_streaming(w_hh().bytes_of(m * (in + h_)), w_hh().bytes_of(k_max),
                                          b.n * k_max * int64_t{sizeof(float)});
    return {b.panels.ih, b.panels.hh, lookup_, streamed};
}

std::shared_ptr<const GruLayer> make_gru_layer(const GruLayerInit& in, bool lookup,
                                               const std::string& where) {
    switch (in.kind) {
        case GruKind::kDense:
            return make_dense_layer(in, lookup, where);
        case GruKind::kLowRank:
            return make_lowrank_layer(in, lookup, where);
        case GruKind::kBlock:
            return make_block_layer(in, lookup, where);
    }
    CCINFER_CHECK(false, where, "unknown layer kind ", static_cast<int>(in.kind));
    return nullptr;
}

}  // namespace detail
}  // namespace ccinfer
