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

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw FormatError("ccinfer.load: " + where + ": " + what);
}

std::string excerpt(const json& value) {
    std::string s = value.dump();
    if (s.size() > 80) s = s.substr(0, 77) + "...";
    return s;
}

namespace {

// nlohmann's messages quote the bytes last read, which may be anything: escape all but
// printable ASCII so that a message is always valid UTF-8 (and one line).
std::string printable(const char* text) {
    std::string out;
    for (const char* p = text; *p; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

json parse_json(const char* first, const char* last, const std::string& where, const char* what) {
    // nlohmann's parser is iterative, but the tree it builds is not: bound the nesting, and
    // refuse duplicate keys (another reader could take the other copy of an entry).
    std::vector<std::set<std::string>> keys;
    auto bound = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth > kMaxJsonDepth)
            fail(where, std::string(what) + " nests deeper than " + std::to_string(kMaxJsonDepth) +
                            " levels");
        switch (event) {
            case json::parse_event_t::object_start:
                keys.emplace_back();
                break;
            case json::parse_event_t::object_end:
                keys.pop_back();
                break;
            case json::parse_event_t::key:
                if (!keys.back().insert(parsed.get<std::string>()).second)
                    fail(where, std::string(what) + " has the key " + parsed.dump() + " twice");
                break;
            default:
                break;
        }
        return true;
    };
    try {
        return json::parse(first, last, bound);
    } catch (const json::exception& e) {
        fail(where, std::string(what) + " is not valid JSON (" + printable(e.what()) + ")");
    }
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

bool get_int(const json& v, int64_t lo, int64_t hi, int64_t& out) {
    if (v.is_number_integer() && !v.is_number_unsigned()) {
        out = v.get<int64_t>();
    } else if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX)) return false;
        out = static_cast<int64_t>(u);
    } else {
        return false;  // bool, float (including integers too large for 64 bits), others
    }
    return out >= lo && out <= hi;
}

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

Tensor check_entry(const std::string& where, const std::string& name, const json& entry,
                   uint64_t data_bytes) {
    const std::string tag = "tensor " + quote(name) + ": ";
    if (!entry.is_object() || entry.size() != 3 || !entry.contains("dtype") ||
        !entry.contains("shape") || !entry.contains("data_offsets"))
        fail(where, tag + "malformed header entry " + excerpt(entry) +
                        " (needs exactly dtype, shape, data_offsets)");
    const json& dtype = entry["dtype"];
    Tensor t;
    t.name = name;
    if (dtype == "F32") {
        t.dtype = Dtype::kF32;
    } else if (dtype == "F16") {
        t.dtype = Dtype::kF16;
    } else {
        fail(where, tag + "dtype " +
                        (dtype.is_string() ? dtype.get<std::string>() : excerpt(dtype)) +
                        " is not supported (expected one of F32, F16)");
    }
    const json& shape = entry["shape"];
    if (!shape.is_array() || shape.size() > 8) fail(where, tag + "bad shape " + excerpt(shape));
    // The element count is bounded by the data section before it is multiplied further, so
    // it cannot overflow: every factor is at most data_bytes, and so is every partial product.
    uint64_t numel = 1;
    bool empty = false;
    for (const json& d : shape) {
        int64_t v = 0;
        if (!get_int(d, 0, INT64_MAX, v)) fail(where, tag + "bad shape " + excerpt(shape));
        t.shape.push_back(v);
        if (v == 0) empty = true;
    }
    for (int64_t v : t.shape) {
        if (empty) break;
        if (static_cast<uint64_t>(v) > data_bytes || numel > data_bytes / static_cast<uint64_t>(v))
            fail(where, tag + "shape " + excerpt(shape) + " needs more bytes than the file holds");
        numel *= static_cast<uint64_t>(v);
    }
    if (empty) numel = 0;
    const json& offsets = entry["data_offsets"];
    int64_t begin = 0, end = 0;
    if (!offsets.is_array() || offsets.size() != 2 || !get_int(offsets[0], 0, INT64_MAX, begin) ||
        !get_int(offsets[1], begin, INT64_MAX, end))
        fail(where, tag + "bad data_offsets " + excerpt(offsets));
    if (static_cast<uint64_t>(end) > data_bytes)
        fail(where, tag + "data ends at byte " + std::to_string(end) + " but the file holds " +
                        std::to_string(data_bytes) + " bytes of data (truncated?)");
    const uint64_t nbytes = numel * itemsize(t.dtype);  // numel <= data_bytes: no overflow
    if (static_cast<uint64_t>(end - begin) != nbytes)
        fail(where, tag + "shape " + excerpt(shape) + " " + dtype.get<std::string>() + " needs " +
                        std::to_string(nbytes) + " bytes, header gives " +
                        std::to_string(end - begin));
    t.numel = static_cast<int64_t>(numel);
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
    if (data == nullptr && size != 0) fail(where, "no data (null pointer)");
    if (size < 8)
        fail(where,
             "file is " + std::to_string(size) + " bytes, too short for a safetensors header");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
    if (header_len > kMaxHeaderBytes || header_len > size - 8)
        fail(where, "header declares " + std::to_string(header_len) + " bytes but the file has " +
                        std::to_string(size) + " (truncated or not a safetensors file)");
    const char* text = reinterpret_cast<const char*>(data + 8);
    json header = parse_json(text, text + header_len, where, "header");
    if (!header.is_object()) fail(where, "header is not a JSON object");

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
        if (begin_of(t) != expect)
            fail(where, "tensor " + quote(t->name) + " starts at byte " +
                            std::to_string(begin_of(t)) + ", expected " + std::to_string(expect) +
                            " (tensor ranges must not overlap or leave gaps)");
        expect += t->nbytes;
    }
    if (expect != data_bytes)
        fail(where, "the tensors cover " + std::to_string(expect) + " bytes but the file holds " +
                        std::to_string(data_bytes) + " bytes of data");
    for (Tensor& t : file.tensors) t.data = base + begin_of(&t);
    std::sort(file.tensors.begin(), file.tensors.end(),
              [](const Tensor& a, const Tensor& b) { return a.name < b.name; });

    auto meta = [&](const char* key) {
        auto it = metadata.find(key);
        return it == metadata.end() ? std::string() : it->second;
    };
    if (meta("format") != "ccinfer")
        fail(where, "not a ccinfer model (metadata 'format' is " +
                        (metadata.count("format") ? quote(meta("format")) : "None") +
                        ", expected 'ccinfer')");
    int version = 0;
    if (!parse_version(meta("format_version"), version) || version < 1 || version > kFormatVersion)
        fail(where, "format_version " + quote(meta("format_version")) +
                        " is not supported (this ccinfer reads versions 1.." +
                        std::to_string(kFormatVersion) + ")");
    file.kind = meta("model");
    static const char* const kKinds[] = {"CondMLP", "GRUStack", "Sequential", "TreeGated"};
    if (std::find(std::begin(kKinds), std::end(kKinds), file.kind) == std::end(kKinds))
        fail(where, "unknown model kind " + quote(file.kind) +
                        " (known: CondMLP, GRUStack, Sequential, TreeGated)");
    file.config_json = meta("config");
    const json config =
        parse_json(file.config_json.data(), file.config_json.data() + file.config_json.size(),
                   where, "metadata 'config'");
    if (!config.is_object()) fail(where, "metadata 'config' must be a JSON object");
    for (auto& [k, v] : metadata)
        if (k.compare(0, 5, "card.") == 0) file.card[k.substr(5)] = v;
    for (const Tensor& t : file.tensors)
        if (!finite(t)) fail(where, "tensor " + quote(t.name) + " contains NaN or Inf");
    return file;
}

}  // namespace ccinfer::format
