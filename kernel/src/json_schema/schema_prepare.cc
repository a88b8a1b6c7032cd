// Readies a schema for valijson 1.0, and holds the built-in draft-07 meta-schema.
//
// This file stands between valijson and schemas that would crash it or make it wrong
// (json_schema.h lists them): a schema is validated against the draft-07 meta-schema (the
// check itself runs in json_schema.cc), then walked once to refuse remote or dangling
// "$ref"s, endless recursion and exponential expansion (schema_cost.h), to precompile its regexes
// for a matcher with bounded stack, and to drop "format".
#include "json_schema/schema_prepare.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "artana/kernel/json_parse.h"
#include "json_path.h"
#include "json_schema/schema_cost.h"
#include "json_schema/schema_errors.h"

namespace artana::kernel::schema {

bool parse_index(std::string_view text, size_t& index) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), index);
  return error == std::errc() && end == text.data() + text.size();
}

const Json* resolve_pointer(const Json& root, std::string_view ref) {
  if (!ref.starts_with('#')) return nullptr;
  std::string pointer;
  for (size_t i = 1; i < ref.size(); ++i) {
    unsigned byte = static_cast<unsigned char>(ref[i]);
    if (ref[i] == '%') {
      if (i + 2 >= ref.size()) return nullptr;
      auto [end, error] = std::from_chars(ref.data() + i + 1, ref.data() + i + 3, byte, 16);
      if (error != std::errc() || end != ref.data() + i + 3) return nullptr;
      i += 2;
    }
    pointer += static_cast<char>(byte);
  }
  if (!pointer.empty() && pointer[0] != '/') return nullptr;
  const Json* node = &root;
  for (size_t pos = 0; node != nullptr && pos < pointer.size();) {
    size_t end = std::min(pointer.find('/', pos + 1), pointer.size());
    std::string token;
    for (size_t i = pos + 1; i < end; ++i) {
      if (pointer[i] != '~') {
        token += pointer[i];
      } else if (i + 1 < end && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
        token += pointer[++i] == '0' ? '~' : '/';
      } else {
        return nullptr;
      }
    }
    size_t index = 0;
    if (node->is_array()) {
      node = parse_index(token, index) && index < node->size() ? &node->as_array()[index] : nullptr;
    } else {
      node = node->find(token);
    }
    pos = end;
  }
  return node;
}

namespace {

using schema_internal::JsonAdapter;

// The draft-07 meta-schema (json-schema.org), verbatim.
constexpr std::string_view kMetaSchemaText = R"json(
{"$schema":"http://json-schema.org/draft-07/schema#",
"$id":"http://json-schema.org/draft-07/schema#","title":"Core schema meta-schema",
"definitions":{"schemaArray":{"type":"array","minItems":1,"items":{"$ref":"#"}},
"nonNegativeInteger":{"type":"integer","minimum":0},
"nonNegativeIntegerDefault0":{"allOf":[{"$ref":"#/definitions/nonNegativeInteger"},
{"default":0}]},"simpleTypes":{"enum":["array","boolean","integer","null","number","object",
"string"]},"stringArray":{"type":"array","items":{"type":"string"},"uniqueItems":true,
"default":[]}},"type":["object","boolean"],"properties":{"$id":{"type":"string",
"format":"uri-reference"},"$schema":{"type":"string","format":"uri"},"$ref":{"type":"string",
"format":"uri-reference"},"$comment":{"type":"string"},"title":{"type":"string"},
"description":{"type":"string"},"default":true,"readOnly":{"type":"boolean","default":false},
"examples":{"type":"array","items":true},"multipleOf":{"type":"number","exclusiveMinimum":0},
"maximum":{"type":"number"},"exclusiveMaximum":{"type":"number"},"minimum":{"type":"number"},
"exclusiveMinimum":{"type":"number"},"maxLength":{"$ref":"#/definitions/nonNegativeInteger"},
"minLength":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"pattern":{"type":"string",
"format":"regex"},"additionalItems":{"$ref":"#"},"items":{"anyOf":[{"$ref":"#"},
{"$ref":"#/definitions/schemaArray"}],"default":true},
"maxItems":{"$ref":"#/definitions/nonNegativeInteger"},
"minItems":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},"uniqueItems":{"type":"boolean",
"default":false},"contains":{"$ref":"#"},
"maxProperties":{"$ref":"#/definitions/nonNegativeInteger"},
"minProperties":{"$ref":"#/definitions/nonNegativeIntegerDefault0"},
"required":{"$ref":"#/definitions/stringArray"},"additionalProperties":{"$ref":"#"},
"definitions":{"type":"object","additionalProperties":{"$ref":"#"},"default":{}},
"properties":{"type":"object","additionalProperties":{"$ref":"#"},"default":{}},
"patternProperties":{"type":"object","additionalProperties":{"$ref":"#"},
"propertyNames":{"format":"regex"},"default":{}},"dependencies":{"type":"object",
"additionalProperties":{"anyOf":[{"$ref":"#"},{"$ref":"#/definitions/stringArray"}]}},
"propertyNames":{"$ref":"#"},"const":true,"enum":{"type":"array","items":true},
"type":{"anyOf":[{"$ref":"#/definitions/simpleTypes"},{"type":"array",
"items":{"$ref":"#/definitions/simpleTypes"},"minItems":1,"uniqueItems":true}]},
"format":{"type":"string"},"contentMediaType":{"type":"string"},
"contentEncoding":{"type":"string"},"if":{"$ref":"#"},"then":{"$ref":"#"},"else":{"$ref":"#"},
"allOf":{"$ref":"#/definitions/schemaArray"},"anyOf":{"$ref":"#/definitions/schemaArray"},
"oneOf":{"$ref":"#/definitions/schemaArray"},"not":{"$ref":"#"}},"default":true}
)json";

std::string render(Path path, std::initializer_list<std::string_view> keys, std::string_view root) {
  for (std::string_view key : keys) path.push_back(key_segment(key));
  return render_json_path(path, root);
}

Status check_ref(std::string_view ref, const Json& root, const Json& meta, const Path& path) {
  std::string_view fragment = ref;
  const Json* doc = &root;
  if (!ref.starts_with('#')) {
    if (!ref.starts_with(kMetaSchemaUri) ||
        (ref.size() > kMetaSchemaUri.size() && ref[kMetaSchemaUri.size()] != '#')) {
      return Status::invalid_argument(
          "{}: remote reference {} is not supported: only \"#...\" pointers into this schema "
          "and the draft-07 meta-schema ({}#) can be referred to",
          render(path, {"$ref"}, "schema"), quoted(ref), kMetaSchemaUri);
    }
    fragment.remove_prefix(kMetaSchemaUri.size());
    doc = &meta;
  }
  if (fragment.empty() || resolve_pointer(*doc, fragment) != nullptr) return {};
  return Status::invalid_argument(
      "{}: {} points to nothing in the schema (plain-name fragments such as \"#foo\" are not "
      "supported; use a JSON pointer such as \"#/definitions/foo\")",
      render(path, {"$ref"}, "schema"), quoted(ref));
}

Status add_regex(const std::string& pattern, Compiled& out, const std::string& where) {
  if (out.regexes.contains(pattern)) return {};
  try {
    // __polynomial (libstdc++) picks the breadth-first matcher: its stack does not grow with
    // the input, where the default depth-first one overflows on strings of ~20 KB.
    out.regexes.emplace(
        pattern, std::regex(pattern, std::regex::ECMAScript | std::regex_constants::__polynomial));
  } catch (const std::regex_error& e) {
    return Status::invalid_argument("{}: {} is not a usable regular expression: {}", where,
                                    quoted(pattern), e.what());
  }
  return {};
}

Status prepare_node(Json& node, const Path& path, const Json& root, const Json& meta,
                    Compiled& out) {
  if (!node.is_object()) return {};
  if (const Json* ref = node.find("$ref"); ref != nullptr && ref->is_string()) {
    ARTANA_RETURN_IF_ERROR(check_ref(ref->as_string(), root, meta, path));
  }
  if (const Json* pattern = node.find("pattern"); pattern != nullptr && pattern->is_string()) {
    ARTANA_RETURN_IF_ERROR(
        add_regex(pattern->as_string(), out, render(path, {"pattern"}, "schema")));
  }
  if (const Json* map = node.find("patternProperties"); map != nullptr && map->is_object()) {
    out.has_pattern_properties = true;
    for (const Json::Member& m : map->as_object()) {
      ARTANA_RETURN_IF_ERROR(
          add_regex(m.first, out, render(path, {"patternProperties", m.first}, "schema")));
    }
  }
  // valijson 1.0 checks only date, time and date-time, and reads every value under "format"
  // as a string: it throws on arrays and objects and fails numbers, where draft 7 lets them
  // pass, and its date regexes recurse once per character. Draft 7 §7.2 lets formats be
  // annotations, so they are dropped before valijson sees them.
  std::erase_if(node.as_object(), [](const Json::Member& m) { return m.first == "format"; });
  return {};
}

enum class Holds { kNothing, kSchema, kSchemaList, kSchemaMap };

// What a keyword's value holds, as valijson parses it; data ("const", "enum", "default")
// and unknown keywords hold no schema.
Holds holds(std::string_view key, const Json& value) {
  auto is_one_of = [key](std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), key) != names.end();
  };
  if (value.is_array() && is_one_of({"allOf", "anyOf", "oneOf", "items"})) {
    return Holds::kSchemaList;
  }
  if (value.is_object() &&
      is_one_of({"properties", "patternProperties", "definitions", "dependencies"})) {
    return Holds::kSchemaMap;
  }
  return is_one_of({"additionalItems", "additionalProperties", "contains", "propertyNames", "if",
                    "then", "else", "not", "items"})
             ? Holds::kSchema
             : Holds::kNothing;
}

// Calls fn(subschema, path) on every subschema of `node` and then on `node`: children
// first, so fn may change a node's members once the walk is done with them.
template <typename Fn>
Status walk(Json& node, Path& path, const Fn& fn) {
  if (node.is_object()) {
    for (Json::Member& member : node.as_object()) {
      Holds what = holds(member.first, member.second);
      if (what == Holds::kNothing) continue;
      path.push_back(key_segment(member.first));
      if (what == Holds::kSchema) ARTANA_RETURN_IF_ERROR(walk(member.second, path, fn));
      for (size_t i = 0; what == Holds::kSchemaList && i < member.second.size(); ++i) {
        path.push_back({.index = i});
        ARTANA_RETURN_IF_ERROR(walk(member.second.as_array()[i], path, fn));
        path.pop_back();
      }
      if (what == Holds::kSchemaMap) {
        for (Json::Member& entry : member.second.as_object()) {
          if (entry.second.is_array()) continue;  // a "dependencies" list of property names
          path.push_back(key_segment(entry.first));
          ARTANA_RETURN_IF_ERROR(walk(entry.second, path, fn));
          path.pop_back();
        }
      }
      path.pop_back();
    }
  }
  return fn(node, path);
}

}  // namespace

Status prepare_schema(Json& schema, const Json& meta, Compiled& out) {
  Path path;
  ARTANA_RETURN_IF_ERROR(walk(schema, path, [&](Json& node, const Path& at) {
    return prepare_node(node, at, schema, meta, out);
  }));
  ExpansionCheck expansion(schema);
  return walk(schema, path, [&](Json& node, const Path& at) { return expansion.check(node, at); });
}

Status MetaSchema::init() {
  ARTANA_ASSIGN_OR_RETURN(source, parse_json(kMetaSchemaText, "draft-07 meta-schema"));
  served = source;
  ARTANA_RETURN_IF_ERROR(prepare_schema(served, source, compiled));
  served.set("id", std::string(kMetaSchemaUri));
  try {
    valijson::SchemaParser(valijson::SchemaParser::kDraft7)
        .populateSchema(JsonAdapter(served), compiled.schema);
  } catch (...) {
    return Status::internal("{}", exception_status("compiling the meta-schema").message());
  }
  return {};
}

const MetaSchema& meta_schema() {
  static const MetaSchema meta;
  return meta;
}

}  // namespace artana::kernel::schema
