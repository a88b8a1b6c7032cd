// Turns valijson's ValidationResults, and what it throws, into our messages: the first error
// gets the path written from the caller's root, the value shown, and where the schema allows
// it, the type that was expected ("args.age: 'x' is not of type integer").
#include "json_schema/schema_errors.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "artana/kernel/canonical_json.h"
#include "json_path.h"
#include "json_schema/schema_prepare.h"

namespace artana::kernel::schema {
namespace {

// valijson's descriptions that we rephrase (validation_visitor.hpp).
constexpr std::string_view kTypeFailed = "Value type not permitted by 'type' constraint.";
constexpr std::string_view kEnumFailed = "Failed to match against any enum values.";
constexpr std::string_view kExtraProperty =
    "Object contains a property that could not be validated using 'properties' or "
    "'additionalProperties' constraints: ";

std::string show_value(const Json& v) {
  if (v.is_string()) return quoted(v.as_string());
  if (v.is_array() || v.is_object()) return v.is_array() ? "an array" : "an object";
  Result<std::string> text = canonical_json(v);  // null, true, 12, 1.5
  return text.ok() ? *text : fmt::format("{}", v.as_number());
}

const Json* follow_refs(const Json& root, const Json* node) {
  for (int hops = 0; node != nullptr && node->is_object() && hops < 64; ++hops) {
    const Json* ref = node->find("$ref");
    if (ref == nullptr || !ref->is_string()) return node;
    node = resolve_pointer(root, ref->as_string());
  }
  return nullptr;
}

// The subschema for `path` when "properties", "additionalProperties", "items" and "$ref"
// alone lead there, else nullptr: enough to name the expected type for the usual
// tool-arguments schema.
const Json* subschema_at(const Json& root, const Path& path) {
  const Json* node = follow_refs(root, &root);
  for (const PathSegment& step : path) {
    if (node == nullptr || !node->is_object()) return nullptr;
    const Json* next = nullptr;
    if (step.is_key) {
      const Json* properties = node->find("properties");
      next = properties != nullptr ? properties->find(step.key) : nullptr;
      if (next == nullptr) next = node->find("additionalProperties");
    } else if (const Json* items = node->find("items"); items != nullptr && items->is_array()) {
      next = step.index < items->size() ? &items->as_array()[step.index]
                                        : node->find("additionalItems");
    } else {
      next = items;
    }
    node = follow_refs(root, next);
  }
  return node;
}

bool has_type(const Json& v, std::string_view type) {
  if (type == "integer") {
    return v.is_integer() || (v.is_double() && std::isfinite(v.as_double()) &&
                              std::trunc(v.as_double()) == v.as_double());
  }
  return (type == "number" && v.is_number()) || (type == "string" && v.is_string()) ||
         (type == "boolean" && v.is_bool()) || (type == "null" && v.is_null()) ||
         (type == "array" && v.is_array()) || (type == "object" && v.is_object());
}

// The "type" of `schema` ("integer", "string or null") if it is what rejects `value`; empty
// when the failing "type" is elsewhere (under "allOf", "anyOf", ...).
std::string rejecting_types(const Json* schema, const Json& value) {
  const Json* type = schema != nullptr ? schema->find("type") : nullptr;
  if (type == nullptr) return {};
  std::string names;
  for (const Json& name : type->is_array() ? type->as_array() : Json::Array{*type}) {
    if (!name.is_string() || has_type(value, name.as_string())) return {};
    names += (names.empty() ? "" : " or ") + name.as_string();
  }
  return names;
}

}  // namespace

std::string quoted(std::string_view text) {
  std::string out = quote_json_key(text);  // escaped and clipped, so it is safe in a log line
  out.front() = out.back() = '\'';
  return out;
}

Status exception_status(std::string_view doing) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Status::unavailable("out of memory {}", doing);
  } catch (const std::exception& e) {
    return Status::invalid_argument("{}: {}", doing, e.what());
  } catch (...) {
    return Status::internal("{}: unknown exception", doing);
  }
}

// Its context ("<root>", "[name]", "[3]") is told apart into keys and indices by walking
// `value`, which also finds the value to show.
std::string describe(const valijson::ValidationResults::Error& error, const Json& value,
                     std::string_view root, const Json& schema, bool meta) {
  Path path;
  const Json* at = &value;
  for (size_t i = 1; i < error.context.size(); ++i) {
    std::string_view step = error.context[i];
    if (step.size() >= 2 && step.front() == '[' && step.back() == ']') {
      step = step.substr(1, step.size() - 2);
    }
    size_t index = 0;
    if (at != nullptr && at->is_array() && parse_index(step, index)) {
      path.push_back({.index = index});
      at = index < at->size() ? &at->as_array()[index] : nullptr;
    } else {
      path.push_back(key_segment(step));
      at = at != nullptr ? at->find(step) : nullptr;
    }
  }
  std::string where = render_json_path(path, root);
  std::string text = error.description;
  if (at != nullptr && text == kTypeFailed) {
    std::string expected = rejecting_types(subschema_at(schema, path), *at);
    if (expected.empty()) {
      return fmt::format("{}: {} is not of a type the schema allows", where, show_value(*at));
    }
    return fmt::format("{}: {} is not of type {}", where, show_value(*at), expected);
  }
  if (meta && at != nullptr && text == kEnumFailed) {  // its only "enum": the type names
    return fmt::format("{}: {} is not a JSON Schema type", where, show_value(*at));
  }
  if (text.starts_with(kExtraProperty)) {
    return fmt::format("{}: property {} is not allowed", where,
                       text.substr(kExtraProperty.size(), text.size() - kExtraProperty.size() - 1));
  }
  if (text.ends_with('.')) text.pop_back();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  if (at == nullptr || at->is_array() || at->is_object()) return fmt::format("{}: {}", where, text);
  return fmt::format("{}: {} (got {})", where, text, show_value(*at));
}

}  // namespace artana::kernel::schema
