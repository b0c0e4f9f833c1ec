#pragma once
// Helpers shared by the model-file reader's steps (cpp/src/format/*.cpp).
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ccinfer/check.h"
#include "ccinfer/format.h"

namespace ccinfer::format {

/// Throws FormatError("ccinfer.load: <where>: <parts...>").
[[noreturn]] void fail_message(const std::string& where, const std::string& what);
template <typename... Parts>
[[noreturn]] void fail(const std::string& where, Parts&&... parts) {
    fail_message(where, str(std::forward<Parts>(parts)...));
}

/// CCINFER_CHECK for a file's contents: a FormatError (a std::invalid_argument, which the C
/// API reports as CCINFER_BAD_MODEL) naming the file, then the parts streamed together.
#define CCINFER_FORMAT_CHECK(cond, where, ...)                    \
    do {                                                          \
        if (!(cond)) ::ccinfer::format::fail(where, __VA_ARGS__); \
    } while (0)

/// Parses JSON with every bound of the format, in the order Python's json module would meet
/// them: valid UTF-8, nesting at most kMaxJsonDepth (scanned before parsing), integers
/// within int64, finite floats, no NaN/Infinity, no duplicate keys.
nlohmann::json parse_json(const char* first, const char* last, const std::string& where,
                          const char* what);

/// A JSON integer (not a bool, not a float) in [lo, hi].
bool get_int(const nlohmann::json& v, int64_t lo, int64_t hi, int64_t& out);

/// A value from a file as Python's reprlib renders it (bounded: a hostile value can be
/// megabytes long or deeply nested), so that messages read as they do from Python.
std::string short_repr(const nlohmann::json& value);
std::string short_repr(const std::string& s);

/// A list of strings as Python prints it: ['a', 'b'].
std::string repr_list(std::initializer_list<const char*> items);

// ---- config values: the same checks and messages as ccinfer.io's config_* helpers ----------
// `what` names the field, e.g. "TreeGated config 'depth'".

int64_t config_int(const std::string& where, const nlohmann::json& v, const std::string& what,
                   int64_t lo, int64_t hi);
double config_float(const std::string& where, const nlohmann::json& v, const std::string& what);
std::string config_str(const std::string& where, const nlohmann::json& v, const std::string& what,
                       std::initializer_list<const char*> choices);
bool config_bool(const std::string& where, const nlohmann::json& v, const std::string& what);
const nlohmann::json& config_list(const std::string& where, const nlohmann::json& v,
                                  const std::string& what, int64_t lo, int64_t hi);
/// An object with every key of `required` and no key outside required + optional (unless
/// any_other).
const nlohmann::json& config_object(const std::string& where, const nlohmann::json& v,
                                    const std::string& what, std::vector<std::string> required,
                                    std::vector<std::string> optional = {}, bool any_other = false);

}  // namespace ccinfer::format
