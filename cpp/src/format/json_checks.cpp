// JSON from a model file: parsing with the format's bounds, Python-style renderings of values
// for messages, and the typed config checks (the same rules and wording as ccinfer.io's
// config_* helpers, so a message reads the same whichever side reports it).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ccinfer/format.h"
#include "format_internal.h"

namespace ccinfer::format {

using nlohmann::json;

[[noreturn]] void fail_message(const std::string& where, const std::string& what) {
    throw FormatError("ccinfer.load: " + where + ": " + what);
}

namespace {

// Python's reprlib limits (ccinfer.io.short_repr): nesting 3, strings and numbers 60
// characters, lists 6 entries, objects 4 keys.
constexpr int kReprLevel = 3;
constexpr size_t kReprString = 60, kReprList = 6, kReprDict = 4;

std::string bounded(std::string s) {
    if (s.size() <= kReprString) return s;
    const size_t i = (kReprString - 3) / 2, j = kReprString - 3 - i;
    return s.substr(0, i) + "..." + s.substr(s.size() - j);
}

std::string repr_string(const std::string& s) {
    const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = dq ? '"' : '\'';
    std::string out(1, q);
    for (size_t i = 0; i < s.size() && i < kReprString; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '\\' || c == static_cast<unsigned char>(q)) {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);  // UTF-8 passes through, as Python prints it
        }
    }
    return bounded(out + q);
}

std::string repr(const json& v, int level) {
    switch (v.type()) {
        case json::value_t::null:
            return "None";
        case json::value_t::boolean:
            return v.get<bool>() ? "True" : "False";
        case json::value_t::string:
            return repr_string(v.get<std::string>());
        case json::value_t::array: {
            if (v.empty()) return "[]";
            if (level <= 0) return "[...]";
            std::string out = "[";
            size_t n = 0;
            for (const json& e : v) {
                if (n) out += ", ";
                if (n++ == kReprList) {
                    out += "...";
                    break;
                }
                out += repr(e, level - 1);
            }
            return out + "]";
        }
        case json::value_t::object: {
            if (v.empty()) return "{}";
            if (level <= 0) return "{...}";
            std::string out = "{";
            size_t n = 0;
            for (auto& [k, e] : v.items()) {
                if (n) out += ", ";
                if (n++ == kReprDict) {
                    out += "...";
                    break;
                }
                out += repr_string(k) + ": " + repr(e, level - 1);
            }
            return out + "}";
        }
        default:
            return bounded(v.dump());  // numbers: the shortest form that reads back
    }
}

// The deepest nesting of [ and { outside strings, without recursion (before parsing, so a
// hostile file cannot build a deep tree).
int64_t json_depth(const char* p, const char* last) {
    int64_t depth = 0, deepest = 0;
    for (; p < last; ++p) {
        if (*p == '"') {
            for (++p; p < last && *p != '"'; ++p)
                if (*p == '\\') ++p;
        } else if (*p == '[' || *p == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (*p == ']' || *p == '}') {
            --depth;
        }
    }
    return deepest;
}

// The byte offset of the first invalid UTF-8 sequence, or -1.
int64_t invalid_utf8(const unsigned char* s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || i + len > n || (len == 2 && c < 0xc2) || (len == 4 && c > 0xf4))
            return static_cast<int64_t>(i);
        for (size_t k = 1; k < len; ++k)
            if ((s[i + k] & 0xc0) != 0x80) return static_cast<int64_t>(i);
        if (len == 3) {
            const unsigned d = s[i + 1];
            if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d >= 0xa0)) return static_cast<int64_t>(i);
        }
        if (len == 4) {
            const unsigned d = s[i + 1];
            if ((c == 0xf0 && d < 0x90) || (c == 0xf4 && d >= 0x90)) return static_cast<int64_t>(i);
        }
        i += len;
    }
    return -1;
}

// Numbers and constants outside strings that the format refuses, as Python's parse hooks
// refuse them: integers beyond int64 (|n| < 2^63), floats that overflow, NaN and Infinity.
// Returns the problem, or "" if none.
std::string refused_number(const char* p, const char* last) {
    for (; p < last; ++p) {
        if (*p == '"') {
            for (++p; p < last && *p != '"'; ++p)
                if (*p == '\\') ++p;
            continue;
        }
        for (const char* constant : {"NaN", "Infinity", "-Infinity"}) {
            const size_t n = std::strlen(constant);
            if (static_cast<size_t>(last - p) >= n && std::memcmp(p, constant, n) == 0)
                return str(constant, " is not a number the format allows");
        }
        if (*p != '-' && (*p < '0' || *p > '9')) continue;
        const char* start = p;
        bool integer = true;
        for (; p < last && (std::strchr("+-.eE", *p) || (*p >= '0' && *p <= '9')); ++p)
            if (*p == '.' || *p == 'e' || *p == 'E') integer = false;
        const std::string text(start, p);
        --p;
        const std::string shown = text.substr(0, 40);
        if (integer) {
            const std::string digits = text[0] == '-' ? text.substr(1) : text;
            // |n| < 2^63 = 9223372036854775808 (19 digits), as Python's int() compares it.
            const bool small =
                digits.size() < 19 || (digits.size() == 19 && digits < "9223372036854775808");
            if (!small) return str("integer ", shown, " is out of range (|n| < 2^63)");
        } else if (!std::isfinite(std::strtod(text.c_str(), nullptr))) {
            return str("number ", shown, " is out of range of a float");
        }
    }
    return "";
}

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

std::string short_repr(const json& value) { return repr(value, kReprLevel); }
std::string short_repr(const std::string& s) { return repr_string(s); }

std::string repr_list(std::initializer_list<const char*> items) {
    std::string out = "[";
    for (const char* s : items) out += (out.size() > 1 ? ", '" : "'") + std::string(s) + "'";
    return out + "]";
}

json parse_json(const char* first, const char* last, const std::string& where, const char* what) {
    const int64_t bad = invalid_utf8(reinterpret_cast<const unsigned char*>(first),
                                     static_cast<size_t>(last - first));
    CCINFER_FORMAT_CHECK(bad < 0, where, what, " is not valid JSON (not UTF-8: invalid byte at ",
                         bad, ")");
    const int64_t depth = json_depth(first, last);
    CCINFER_FORMAT_CHECK(depth <= kMaxJsonDepth, where, what, " nests ", depth,
                         " levels deep (at most ", kMaxJsonDepth, ")");
    const std::string number = refused_number(first, last);
    CCINFER_FORMAT_CHECK(number.empty(), where, what, ": ", number);
    // Duplicate keys are refused: another reader could take the other copy of an entry.
    std::vector<std::set<std::string>> keys;
    auto unique_keys = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
            keys.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
            keys.pop_back();
        } else if (event == json::parse_event_t::key) {
            const std::string key = parsed.get<std::string>();
            CCINFER_FORMAT_CHECK(keys.back().insert(key).second, where, what, ": key ",
                                 short_repr(key), " appears twice in one object");
        }
        return true;
    };
    try {
        return json::parse(first, last, unique_keys);
    } catch (const json::exception& e) {
        fail(where, what, " is not valid JSON (", printable(e.what()), ")");
    }
}

bool get_int(const json& v, int64_t lo, int64_t hi, int64_t& out) {
    if (v.is_number_integer() && !v.is_number_unsigned()) {
        out = v.get<int64_t>();
    } else if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX)) return false;
        out = static_cast<int64_t>(u);
    } else {
        return false;  // bool, float, others
    }
    return out >= lo && out <= hi;
}

namespace {
[[noreturn]] void bad(const std::string& where, const std::string& what,
                      const std::string& expected, const json& v) {
    fail(where, what, " must be ", expected, ", got ", short_repr(v));
}
}  // namespace

int64_t config_int(const std::string& where, const json& v, const std::string& what, int64_t lo,
                   int64_t hi) {
    int64_t out = 0;
    if (!get_int(v, lo, hi, out)) bad(where, what, str("an integer in [", lo, ", ", hi, "]"), v);
    return out;
}

double config_float(const std::string& where, const json& v, const std::string& what) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) bad(where, what, "a finite number", v);
    return v.get<double>();
}

std::string config_str(const std::string& where, const json& v, const std::string& what,
                       std::initializer_list<const char*> choices) {
    if (v.is_string())
        for (const char* c : choices)
            if (v.get<std::string>() == c) return c;
    bad(where, what, "one of " + repr_list(choices), v);
}

bool config_bool(const std::string& where, const json& v, const std::string& what) {
    if (!v.is_boolean()) bad(where, what, "true or false", v);
    return v.get<bool>();
}

const json& config_list(const std::string& where, const json& v, const std::string& what,
                        int64_t lo, int64_t hi) {
    if (!v.is_array() || static_cast<int64_t>(v.size()) < lo || static_cast<int64_t>(v.size()) > hi)
        bad(where, what,
            lo == hi ? str("a list of ", lo, " entries")
                     : str("a list of ", lo, " to ", hi, " entries"),
            v);
    return v;
}

const json& config_object(const std::string& where, const json& v, const std::string& what,
                          std::vector<std::string> required, std::vector<std::string> optional,
                          bool any_other) {
    if (!v.is_object()) bad(where, what, "a JSON object", v);
    std::vector<std::string> missing, unknown;
    for (const std::string& k : required)
        if (!v.contains(k)) missing.push_back(k);
    if (!any_other)
        for (auto& [k, e] : v.items()) {
            const bool known = std::find(required.begin(), required.end(), k) != required.end() ||
                               std::find(optional.begin(), optional.end(), k) != optional.end();
            if (!known) unknown.push_back(k);
        }
    if (missing.empty() && unknown.empty()) return v;
    std::sort(missing.begin(), missing.end());
    std::sort(required.begin(), required.end());
    std::sort(optional.begin(), optional.end());
    std::string keys = "[";
    for (const std::string& k : required) keys += (keys.size() > 1 ? ", '" : "'") + k + "'";
    for (const std::string& k : optional) keys += (keys.size() > 1 ? ", '" : "'") + k + "?'";
    keys += "]";
    std::string problems;
    if (!missing.empty()) problems = "missing " + short_repr(json(missing));
    if (!unknown.empty())
        problems += (problems.empty() ? "" : ", ") + std::string("unknown keys ") +
                    short_repr(json(unknown));
    fail(where, what, " must be an object with the keys ", keys, ": ", problems);
}

}  // namespace ccinfer::format
