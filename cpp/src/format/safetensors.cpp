// Step 1 of reading a model file: the safetensors container and the ccinfer metadata
// (ccinfer/format.h). Every check runs on the header before a tensor byte is looked at, and
// nothing proportional to a size the file declares is allocated before that size is checked
// against the bytes that are really there.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ccinfer/format.h"
#include "ccinfer/half.h"
#include "format_internal.h"

namespace ccinfer::format {

using nlohmann::json;

namespace {

constexpr uint64_t itemsize(Dtype d) { return d == Dtype::kF32 ? 4 : 2; }

bool finite(const Tensor& t) {
    if (t.dtype == Dtype::kF16) {
        for (int64_t i = 0; i < t.numel; ++i) {
            uint16_t h;
            std::memcpy(&h, t.data + 2 * i, 2);
            if ((h & 0x7c00) == 0x7c00) return false;  // exponent all ones: Inf or NaN
        }
        return true;
    }
    for (int64_t i = 0; i < t.numel; ++i) {
        uint32_t u;
        std::memcpy(&u, t.data + 4 * i, 4);
        if ((u & 0x7f800000u) == 0x7f800000u) return false;
    }
    return true;
}

/// The decimal digits of an unsigned 128-bit number.
std::string decimal(unsigned __int128 v) {
    std::string out;
    do {
        out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
        v /= 10;
    } while (v);
    return out;
}

/// The byte count a shape declares, exactly while it fits in 128 bits ("more than 2^127"
/// beyond: a shape of at most 8 dims below 2^63 each can exceed it).
std::string declared_bytes(const std::vector<int64_t>& shape, uint64_t itemsize) {
    unsigned __int128 n = itemsize;
    const unsigned __int128 limit = static_cast<unsigned __int128>(1) << 127;
    for (int64_t d : shape) {
        if (d == 0) return "0";
        if (n > limit / static_cast<uint64_t>(d)) return "more than 2^127";
        n *= static_cast<uint64_t>(d);
    }
    return decimal(n);
}

// The checks of one header entry, in the order ccinfer.io made them (the messages too).
Tensor check_entry(const std::string& where, const std::string& name, const json& entry,
                   uint64_t data_bytes) {
    const std::string tag = "tensor " + short_repr(name) + ": ";
    CCINFER_FORMAT_CHECK(entry.is_object() && entry.size() == 3 && entry.contains("dtype") &&
                             entry.contains("shape") && entry.contains("data_offsets"),
                         where, tag, "malformed header entry ", short_repr(entry),
                         " (needs exactly dtype, shape, data_offsets)");
    const json& dtype = entry["dtype"];
    Tensor t;
    t.name = name;
    CCINFER_FORMAT_CHECK(dtype == "F32" || dtype == "F16", where, tag, "dtype ", short_repr(dtype),
                         " is not supported (expected one of F32, F16)");
    t.dtype = dtype == "F32" ? Dtype::kF32 : Dtype::kF16;
    const json& shape = entry["shape"];
    bool shape_ok = shape.is_array() && shape.size() <= 8;
    for (size_t i = 0; shape_ok && i < shape.size(); ++i) {
        int64_t v = 0;
        shape_ok = get_int(shape[i], 0, INT64_MAX, v);
        t.shape.push_back(v);
    }
    CCINFER_FORMAT_CHECK(shape_ok, where, tag, "bad shape ", short_repr(shape));
    const json& offsets = entry["data_offsets"];
    int64_t begin = 0, end = 0;
    CCINFER_FORMAT_CHECK(offsets.is_array() && offsets.size() == 2 &&
                             get_int(offsets[0], 0, INT64_MAX, begin) &&
                             get_int(offsets[1], begin, INT64_MAX, end),
                         where, tag, "bad data_offsets ", short_repr(offsets));
    CCINFER_FORMAT_CHECK(static_cast<uint64_t>(end) <= data_bytes, where, tag, "data ends at byte ",
                         end, " but the file holds ", data_bytes, " bytes of data (truncated?)");
    // The element count is compared with the range before anything uses it: every factor and
    // partial product stays at most the range's size, so nothing overflows.
    const uint64_t span = static_cast<uint64_t>(end - begin);
    uint64_t nbytes = itemsize(t.dtype);
    bool fits = true;
    for (int64_t d : t.shape) {
        if (d == 0) {
            nbytes = 0;
            fits = true;
            break;
        }
        if (fits && nbytes > span / static_cast<uint64_t>(d)) fits = false;
        if (fits) nbytes *= static_cast<uint64_t>(d);
    }
    CCINFER_FORMAT_CHECK(fits && nbytes == span, where, tag, "shape ", short_repr(shape), " ",
                         dtype.get<std::string>(), " needs ",
                         declared_bytes(t.shape, itemsize(t.dtype)), " bytes, header gives ", span);
    t.numel = static_cast<int64_t>(nbytes / itemsize(t.dtype));
    t.nbytes = nbytes;
    t.data = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(begin));  // offset for now
    return t;
}

// format_version: ASCII digits only (no sign, no spaces, no other scripts' digits).
bool parse_version(const std::string& s, int& out) {
    if (s.empty() || s.size() > 9) return false;
    int v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

}  // namespace

const Tensor* ModelFile::find(const std::string& name) const {
    auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                               [](const Tensor& t, const std::string& n) { return t.name < n; });
    return it != tensors.end() && it->name == name ? &*it : nullptr;
}

void read_floats(const Tensor& t, float* out) {
    if (t.dtype == Dtype::kF32) {
        if (t.nbytes) std::memcpy(out, t.data, t.nbytes);
        return;
    }
    for (int64_t i = 0; i < t.numel; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = half_to_float(h);
    }
}

ModelFile read_model_file(const uint8_t* data, size_t size, const std::string& where) {
    CCINFER_FORMAT_CHECK(data != nullptr || size == 0, where, "no data (null pointer)");
    CCINFER_FORMAT_CHECK(size >= 8, where, "file is ", size,
                         " bytes, too short for a safetensors header");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
    CCINFER_FORMAT_CHECK(header_len <= kMaxHeaderBytes && header_len <= size - 8, where,
                         "header declares ", header_len, " bytes but the file has ", size,
                         " (truncated or not a safetensors file)");
    const char* text = reinterpret_cast<const char*>(data + 8);
    json header = parse_json(text, text + header_len, where, "header");
    CCINFER_FORMAT_CHECK(header.is_object(), where, "header is not a JSON object");

    ModelFile file;
    file.where = where;
    std::map<std::string, std::string> metadata;
    if (auto it = header.find("__metadata__"); it != header.end()) {
        if (!it->is_null()) {
            if (!it->is_object()) fail(where, "__metadata__ must map strings to strings");
            for (auto& [k, v] : it->items()) {
                if (!v.is_string()) fail(where, "__metadata__ must map strings to strings");
                metadata[k] = v.get<std::string>();
            }
        }
        header.erase(it);
    }

    const uint64_t data_bytes = size - 8 - header_len;
    const uint8_t* base = data + 8 + header_len;
    for (auto& [name, entry] : header.items())
        file.tensors.push_back(check_entry(where, name, entry, data_bytes));
    // The ranges must tile the data section: sorted by start, each begins where the previous
    // ended and the last ends at the end of the file (the safetensors library's rule).
    std::vector<const Tensor*> by_offset;
    for (const Tensor& t : file.tensors) by_offset.push_back(&t);
    auto begin_of = [](const Tensor* t) { return reinterpret_cast<uintptr_t>(t->data); };
    std::stable_sort(by_offset.begin(), by_offset.end(),
                     [&](const Tensor* a, const Tensor* b) { return begin_of(a) < begin_of(b); });
    uint64_t expect = 0;
    for (const Tensor* t : by_offset) {
        CCINFER_FORMAT_CHECK(begin_of(t) == expect, where, "tensor ", short_repr(t->name),
                             " starts at byte ", begin_of(t), ", expected ", expect,
                             " (tensor ranges must not overlap or leave gaps)");
        expect += t->nbytes;
    }
    CCINFER_FORMAT_CHECK(expect == data_bytes, where, "the tensors cover ", expect,
                         " bytes but the file holds ", data_bytes, " bytes of data");
    for (Tensor& t : file.tensors) t.data = base + begin_of(&t);
    std::sort(file.tensors.begin(), file.tensors.end(),
              [](const Tensor& a, const Tensor& b) { return a.name < b.name; });

    auto meta = [&](const char* key) {
        auto it = metadata.find(key);
        return it == metadata.end() ? std::string() : it->second;
    };
    CCINFER_FORMAT_CHECK(
        meta("format") == "ccinfer", where, "not a ccinfer model (metadata 'format' is ",
        metadata.count("format") ? short_repr(meta("format")) : "None", ", expected 'ccinfer')");
    int version = 0;
    CCINFER_FORMAT_CHECK(
        parse_version(meta("format_version"), version) && version >= 1 && version <= kFormatVersion,
        where, "format_version ", short_repr(meta("format_version")),
        " is not supported (this ccinfer reads versions 1..", kFormatVersion,
        ", written in ASCII digits)");
    file.kind = meta("model");
    static const char* const kKinds[] = {"CondMLP", "GRUStack", "Sequential", "TreeGated"};
    CCINFER_FORMAT_CHECK(
        std::find(std::begin(kKinds), std::end(kKinds), file.kind) != std::end(kKinds), where,
        "unknown model kind ", short_repr(file.kind),
        " (known: CondMLP, GRUStack, Sequential, TreeGated)");
    file.config_json = meta("config");
    const json config =
        parse_json(file.config_json.data(), file.config_json.data() + file.config_json.size(),
                   where, "metadata 'config'");
    CCINFER_FORMAT_CHECK(config.is_object(), where, "metadata 'config' must be a JSON object");
    for (auto& [k, v] : metadata)
        if (k.compare(0, 5, "card.") == 0) file.card[k.substr(5)] = v;
    for (const Tensor& t : file.tensors)
        CCINFER_FORMAT_CHECK(finite(t), where, "tensor ", short_repr(t.name),
                             " contains NaN or Inf");
    return file;
}

}  // namespace ccinfer::format
