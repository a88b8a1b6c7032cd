// Reading a server's JSON without trusting its shape: a member of the wrong type is absent
// (Json::as_* on the wrong type would throw), and a tool call's arguments, which both APIs
// send as JSON text, are decoded in one place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/json_parse.h"
#include "artana/kernel/status.h"

namespace artana::io {

inline const kernel::Json* member(const kernel::Json& object, std::string_view key) {
  return object.is_object() ? object.find(key) : nullptr;
}

inline const std::string* string_member(const kernel::Json& object, std::string_view key) {
  const kernel::Json* found = member(object, key);
  return found != nullptr && found->is_string() ? &found->as_string() : nullptr;
}

inline std::optional<int64_t> integer_member(const kernel::Json* object, std::string_view key) {
  const kernel::Json* found = object == nullptr ? nullptr : member(*object, key);
  if (found == nullptr || !found->is_integer()) return std::nullopt;
  return found->as_integer();
}

// A tool call's `arguments` text as a value ({} when absent or empty).
inline Result<kernel::Json> decode_arguments(std::string_view tool, const std::string* text) {
  if (text == nullptr || text->empty()) return kernel::Json::object();
  Result<kernel::Json> args = kernel::parse_json(*text, "arguments");
  if (!args.ok()) {
    return Status::invalid_argument("tool call '{}' has arguments that are not JSON: {}", tool,
                                    args.status().message());
  }
  return args;
}

}  // namespace artana::io
