// Schema shorthand -> JSON Schema draft 7 (schema_shorthand.h).
#include "artana/lua/schema_shorthand.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_schema.h"
#include "lua_path.h"

namespace artana::lua {
namespace {

using detail::append_key;
using detail::quote_key;

using kernel::Json;

constexpr std::string_view kJsonSchemaKey = "$json_schema";
constexpr std::string_view kOptionalKey = "$optional";

// Where a shorthand value sits; it decides whether it may be optional.
enum class Place {
  kRoot,            // the whole schema
  kMember,          // an object member's value: "?" and $optional allowed
  kOptionalMember,  // the value a $optional wraps: already optional
  kItem,            // an array's item
};

const char* describe(const Json& v) {
  switch (v.type()) {
    case Json::Type::kNull:
      return "null";
    case Json::Type::kBool:
      return "a boolean";
    case Json::Type::kInteger:
    case Json::Type::kDouble:
      return "a number";
    case Json::Type::kString:
      return "a string";
    case Json::Type::kArray:
      return "an array";
    case Json::Type::kObject:
      return "a table";
  }
  return "a value";
}

// The first "$ref" in `v` whose string value starts with "#", or nullptr. Looks at every
// object member named "$ref", schema position or not, so it errs on the side of refusing.
const std::string* find_local_ref(const Json& v) {
  if (v.is_array()) {
    for (const Json& item : v.as_array())
      if (const std::string* ref = find_local_ref(item)) return ref;
  } else if (v.is_object()) {
    for (const auto& [key, value] : v.as_object()) {
      if (key == "$ref" && value.is_string() && value.as_string().starts_with('#'))
        return &value.as_string();
      if (const std::string* ref = find_local_ref(value)) return ref;
    }
  }
  return nullptr;
}

class Converter {
 public:
  explicit Converter(std::string_view root) : root_(root) {}

  // `depth`: the tables enclosing `v`. Sets *optional when `v` marks its member optional
  // (only ever at Place::kMember).
  Result<Json> convert(const Json& v, Place place, int depth, bool* optional) {
    switch (v.type()) {
      case Json::Type::kString:
        return type_name(v.as_string(), place, optional);
      case Json::Type::kArray:
        return array(v, depth);
      case Json::Type::kObject:
        if (v.find(kJsonSchemaKey) != nullptr || v.find(kOptionalKey) != nullptr)
          return escape(v, place, depth, optional);
        return object(v, depth);
      default:
        return fail(
            "{} is not a schema shorthand (expected a type name such as \"string\", a table of "
            "members, or {{ \"string\" }} for an array)",
            describe(v));
    }
  }

 private:
  struct Segment {
    std::string_view key;  // borrowed from the shorthand, which outlives the Converter
    bool is_item = false;  // the array's item: [1], as Lua counts
  };

  std::string path() const {
    std::string out(root_);
    for (const Segment& s : path_) {
      if (s.is_item) {
        out += "[1]";
      } else {
        append_key(out, s.key);
      }
    }
    return out.empty() ? std::string("schema") : out;
  }

  template <typename... Args>
  Status fail(fmt::format_string<Args...> format, Args&&... args) const {
    return Status::invalid_argument("{}: {}", path(),
                                    fmt::format(format, std::forward<Args>(args)...));
  }

  Status check_depth(int depth) const {
    if (depth + 1 > kMaxShorthandDepth)
      return fail("tables nest deeper than {} levels", kMaxShorthandDepth);
    return Status::ok_status();
  }

  Result<Json> type_name(std::string_view name, Place place, bool* optional) {
    const bool marked = name.ends_with('?');
    std::string_view base = marked ? name.substr(0, name.size() - 1) : name;
    Json schema;
    if (base == "any") {
      schema = Json::object();
    } else if (base == "string" || base == "number" || base == "integer" || base == "boolean") {
      schema = Json::object({{"type", Json(base)}});
    } else {
      return fail("unknown type {} (expected string, number, integer, boolean or any)",
                  quote_key(base));
    }
    if (marked) {
      if (place == Place::kOptionalMember)
        return fail("{} is inside \"$optional\", which already makes the member optional",
                    quote_key(name));
      if (place != Place::kMember)
        return fail("{} is optional, but only an object member can be optional", quote_key(name));
      *optional = true;
    }
    return schema;
  }

  Result<Json> array(const Json& v, int depth) {
    if (v.size() != 1)
      return fail(
          "an array shorthand has exactly one element, the items' schema (write {{ \"string\" "
          "}} for an array of strings), not {}",
          v.size());
    ARTANA_RETURN_IF_ERROR(check_depth(depth));
    path_.push_back({.key = {}, .is_item = true});
    Result<Json> item = convert(v.as_array()[0], Place::kItem, depth + 1, nullptr);
    path_.pop_back();
    if (!item.ok()) return item.status();
    return Json::object({{"type", "array"}, {"items", std::move(*item)}});
  }

  Result<Json> object(const Json& v, int depth) {
    ARTANA_RETURN_IF_ERROR(check_depth(depth));
    if (v.size() == 0) return Json::object({{"type", "object"}});
    // Sorted here, whatever order the members came in, so the output is deterministic.
    std::vector<const Json::Member*> members;
    for (const Json::Member& m : v.as_object()) members.push_back(&m);
    std::sort(members.begin(), members.end(),
              [](const Json::Member* a, const Json::Member* b) { return a->first < b->first; });
    Json::Object properties;
    Json::Array required;
    for (size_t i = 0; i < members.size(); ++i) {
      const auto& [key, value] = *members[i];
      if (i > 0 && members[i - 1]->first == key)
        return fail("member {} appears twice", quote_key(key));
      path_.push_back({.key = key});
      if (key.starts_with('$')) {
        Status reserved = fail("member names starting with \"$\" are reserved");
        path_.pop_back();
        return reserved;
      }
      bool optional = false;
      Result<Json> schema = convert(value, Place::kMember, depth + 1, &optional);
      path_.pop_back();
      if (!schema.ok()) return schema.status();
      properties.emplace_back(key, std::move(*schema));
      if (!optional) required.emplace_back(key);
    }
    Json out = Json::object({{"type", "object"}, {"properties", Json(std::move(properties))}});
    if (!required.empty()) out.set("required", Json(std::move(required)));
    out.set("additionalProperties", false);
    return out;
  }

  // { ["$json_schema"] = <schema> } or { ["$optional"] = <shorthand> }.
  Result<Json> escape(const Json& v, Place place, int depth, bool* optional) {
    const bool is_schema = v.find(kJsonSchemaKey) != nullptr;
    const std::string_view key = is_schema ? kJsonSchemaKey : kOptionalKey;
    if (v.size() != 1)
      return fail("a table with {} must have no other member (it has {})", quote_key(key),
                  v.size());
    const Json& inner = v.as_object()[0].second;
    if (!is_schema) {
      if (place == Place::kOptionalMember)
        return fail("\"$optional\" is inside \"$optional\"; wrap the member once");
      if (place != Place::kMember)
        return fail("\"$optional\" can only wrap an object member's value");
      *optional = true;
      return convert(inner, Place::kOptionalMember, depth, nullptr);
    }
    if (!inner.is_object() && !inner.is_bool())
      return fail("\"$json_schema\" must be a JSON Schema table, not {}", describe(inner));
    Result<kernel::JsonSchema> compiled = kernel::JsonSchema::compile(inner);
    if (!compiled.ok()) return not_usable(compiled.status().message());
    if (place != Place::kRoot) {
      if (const std::string* ref = find_local_ref(inner))
        return fail(
            "\"$json_schema\" has \"$ref\": {}, which would resolve against the whole generated "
            "schema; inline what it refers to, or make the whole schema a $json_schema",
            quote_key(*ref));
    }
    return inner;
  }

  // JsonSchema::compile names paths from "schema" (`schema.type: ...`); re-rooted at the
  // table the script wrote, that reads `schema.meta["$json_schema"].type: ...`.
  Status not_usable(std::string_view message) const {
    constexpr std::string_view kCompileRoot = "schema";
    if (message.starts_with(kCompileRoot) && message.size() > kCompileRoot.size() &&
        std::string_view(".[:").find(message[kCompileRoot.size()]) != std::string_view::npos) {
      return Status::invalid_argument("{}[\"$json_schema\"]{}", path(),
                                      message.substr(kCompileRoot.size()));
    }
    return fail("\"$json_schema\" is not a usable JSON Schema: {}", message);
  }

  std::string_view root_;
  std::vector<Segment> path_;
};

}  // namespace

Result<kernel::Json> schema_from_shorthand(const kernel::Json& shorthand, std::string_view root) {
  Converter converter(root);
  return converter.convert(shorthand, Place::kRoot, 0, nullptr);
}

bool is_full_json_schema(const kernel::Json& value) {
  return value.is_object() && value.size() == 1 && value.as_object()[0].first == kJsonSchemaKey;
}

}  // namespace artana::lua
