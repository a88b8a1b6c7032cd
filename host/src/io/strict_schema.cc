#include "strict_schema.h"

#include <string>
#include <string_view>

#include "json_access.h"

namespace artana::io {
namespace {

using kernel::Json;

// Keywords strict mode refuses; the host checks them itself on the answer.
constexpr std::string_view kLeftOut[] = {
    "minLength",     "maxLength",        "pattern",          "format",      "minimum",
    "maximum",       "exclusiveMinimum", "exclusiveMaximum", "multipleOf",  "minItems",
    "maxItems",      "uniqueItems",      "contains",         "minContains", "maxContains",
    "minProperties", "maxProperties",    "propertyNames",    "default",     "examples"};
// Keywords a closed schema cannot express faithfully.
constexpr std::string_view kOpen[] = {"allOf",
                                      "not",
                                      "if",
                                      "then",
                                      "else",
                                      "patternProperties",
                                      "dependentSchemas",
                                      "unevaluatedProperties",
                                      "unevaluatedItems",
                                      "dependentRequired"};

template <size_t N>
bool listed(std::string_view key, const std::string_view (&list)[N]) {
  for (std::string_view k : list) {
    if (k == key) return true;
  }
  return false;
}

bool has_type(const Json& node, std::string_view type) {
  const Json* t = member(node, "type");
  if (t == nullptr) return false;
  if (t->is_string()) return t->as_string() == type;
  if (t->is_array()) {
    for (const Json& each : t->as_array()) {
      if (each.is_string() && each.as_string() == type) return true;
    }
  }
  return false;
}

bool allows_null(const Json& node) {
  if (has_type(node, "null")) return true;
  if (const Json* values = member(node, "enum"); values != nullptr && values->is_array()) {
    for (const Json& v : values->as_array()) {
      if (v.is_null()) return true;
    }
  }
  if (const Json* any = member(node, "anyOf"); any != nullptr && any->is_array()) {
    for (const Json& branch : any->as_array()) {
      if (allows_null(branch)) return true;
    }
  }
  return false;
}

bool is_required(const Json& node, std::string_view name) {
  const Json* required = member(node, "required");
  if (required == nullptr || !required->is_array()) return false;
  for (const Json& r : required->as_array()) {
    if (r.is_string() && r.as_string() == name) return true;
  }
  return false;
}

// The closed form of `node`; `strict` becomes false at anything it cannot close.
Json close_schema(const Json& node, bool& strict) {
  if (!node.is_object()) {
    strict = false;  // true / false schemas
    return node;
  }
  Json out = Json::object();
  for (const auto& [key, value] : node.as_object()) {
    if (listed(key, kOpen)) strict = false;
    if (listed(key, kLeftOut)) continue;
    if (key == "properties" || key == "required" || key == "additionalProperties") continue;
    if (key == "items") {
      if (!value.is_object()) strict = false;  // tuples
      out.set(key, close_schema(value, strict));
    } else if (key == "anyOf" && value.is_array()) {
      Json branches = Json::array();
      for (const Json& branch : value.as_array()) branches.push_back(close_schema(branch, strict));
      out.set(key, std::move(branches));
    } else if ((key == "$defs" || key == "definitions") && value.is_object()) {
      Json defs = Json::object();
      for (const auto& [name, def] : value.as_object()) defs.set(name, close_schema(def, strict));
      out.set(key, std::move(defs));
    } else {
      out.set(key, value);
    }
  }
  const Json* properties = member(node, "properties");
  if (properties == nullptr && !has_type(node, "object")) return out;
  if (properties == nullptr || !properties->is_object() || properties->size() == 0) {
    strict = false;  // an object of any members: a map, not a record
    return node;
  }
  if (const Json* extra = member(node, "additionalProperties");
      extra != nullptr && !extra->is_bool()) {
    strict = false;  // members beyond the listed ones, of a schema
  }
  Json closed = Json::object();
  Json required = Json::array();
  for (const auto& [name, child] : properties->as_object()) {
    Json sent = close_schema(child, strict);
    if (!is_required(node, name) && !allows_null(child)) {
      sent = Json::object(
          {{"anyOf", Json::array({std::move(sent), Json::object({{"type", "null"}})})}});
    }
    closed.set(name, std::move(sent));
    required.push_back(name);
  }
  out.set("properties", std::move(closed));
  out.set("required", std::move(required));
  out.set("additionalProperties", false);
  return out;
}

// The definition a local "$ref" names, in `root`, or nullptr.
const Json* resolve(const Json& root, const Json& node) {
  const std::string* ref = string_member(node, "$ref");
  if (ref == nullptr) return &node;
  for (std::string_view prefix : {"#/$defs/", "#/definitions/"}) {
    if (std::string_view(*ref).starts_with(prefix)) {
      const Json* defs = member(root, prefix.substr(2, prefix.size() - 3));
      return defs == nullptr ? nullptr
                             : member(*defs, std::string_view(*ref).substr(prefix.size()));
    }
  }
  return nullptr;
}

// Removes, along `schema`, the null members strict mode made the model write.
void drop_added_nulls(Json& answer, const Json& schema_node, const Json& root, int depth) {
  const Json* schema = resolve(root, schema_node);
  if (schema == nullptr || depth > 64) return;
  if (answer.is_array()) {
    if (const Json* items = member(*schema, "items"); items != nullptr && items->is_object()) {
      for (Json& item : answer.as_array()) drop_added_nulls(item, *items, root, depth + 1);
    }
    return;
  }
  const Json* properties = member(*schema, "properties");
  if (!answer.is_object() || properties == nullptr || !properties->is_object()) return;
  Json::Object kept;
  for (auto& [name, value] : answer.as_object()) {
    const Json* child = member(*properties, name);
    if (child != nullptr && value.is_null() && !is_required(*schema, name) &&
        !allows_null(*child)) {
      continue;
    }
    if (child != nullptr) drop_added_nulls(value, *child, root, depth + 1);
    kept.emplace_back(name, std::move(value));
  }
  answer = Json(std::move(kept));
}

}  // namespace

StrictSchema strict_schema(const Json& schema) {
  StrictSchema out;
  out.strict = true;
  Json closed = close_schema(schema, out.strict);
  Json sent = out.strict ? std::move(closed) : schema;
  // The root must be an object (not a union, not a scalar or an array).
  const bool record = sent.is_object() &&
                      (has_type(sent, "object") || member(sent, "properties") != nullptr) &&
                      member(sent, "anyOf") == nullptr;
  if (!record) {
    Json wrapper = Json::object({{"type", "object"}});
    if (sent.is_object()) {
      // Definitions stay at the root, where "#/$defs/…" references look.
      for (std::string_view key : {"$defs", "definitions"}) {
        if (const Json* defs = member(sent, key)) {
          wrapper.set(std::string(key), *defs);
          Json::Object rest;
          for (auto& [k, v] : sent.as_object()) {
            if (k != key) rest.emplace_back(k, std::move(v));
          }
          sent = Json(std::move(rest));
        }
      }
    }
    wrapper.set("properties", Json::object({{"value", std::move(sent)}}));
    wrapper.set("required", Json::array({"value"}));
    wrapper.set("additionalProperties", false);
    sent = std::move(wrapper);
    out.wrapped = true;
  }
  out.schema = std::move(sent);
  return out;
}

Json answer_for_original(Json answer, const Json& original, const StrictSchema& sent) {
  if (sent.wrapped) {
    Json* value = answer.is_object() ? answer.find("value") : nullptr;
    if (value == nullptr) return answer;  // not the wrapper: the validator will say so
    Json inner = std::move(*value);
    answer = std::move(inner);
  }
  if (sent.strict) drop_added_nulls(answer, original, original, 0);
  return answer;
}

}  // namespace artana::io
