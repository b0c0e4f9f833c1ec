#pragma once
// Helpers shared by the model-file reader's two steps (cpp/src/format/*.cpp).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ccinfer::format {

/// Throws FormatError("ccinfer.load: <where>: <what>").
[[noreturn]] void fail(const std::string& where, const std::string& what);

/// Parses JSON with nesting bounded by kMaxJsonDepth and duplicate keys refused.
nlohmann::json parse_json(const char* first, const char* last, const std::string& where,
                          const char* what);

/// A JSON integer (not a bool, not a float) in [lo, hi].
bool get_int(const nlohmann::json& v, int64_t lo, int64_t hi, int64_t& out);

/// 'name', as Python's repr quotes it (the messages match ccinfer.io's).
std::string quote(const std::string& s);

/// A short JSON rendering of a value for messages.
std::string excerpt(const nlohmann::json& value);

}  // namespace ccinfer::format
