// JsonSchema on valijson 1.0, which validates in place through JsonAdapter.
//
// A schema is checked and readied for valijson in schema_prepare.cc, and valijson's errors
// are worded in schema_errors.cc. This file drives valijson, parsing a prepared schema and
// running a validation (a value is first checked for what JSON cannot carry), and is the
// boundary nothing thrown gets past.
#include "artana/kernel/json_schema.h"

#include "json_schema/valijson.h"

#include <fmt/format.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "artana/kernel/canonical_json.h"
#include "json_path.h"
#include "json_schema/schema_cost.h"
#include "json_schema/schema_errors.h"
#include "json_schema/schema_prepare.h"

namespace artana::kernel {
namespace {

using schema::Compiled;
using schema::describe;
using schema::exception_status;
using schema::key_segment;
using schema::kMetaSchemaUri;
using schema::meta_schema;
using schema::MetaSchema;
using schema::Path;
using schema::prepare_schema;
using schema::RegexCache;
using schema_internal::JsonAdapter;

constexpr size_t kMaxPatternKeyBytes = 1024;  // see json_schema.h
// valijson recurses once per level of a value, and a few large frames per level of a schema
// (~16 KB under ASan), so depth is capped before it starts: values as parse_json does.
constexpr size_t kMaxValueDepth = 1024;
constexpr size_t kMaxSchemaDepth = 256;
// What validating one value may cost (schema_cost.h): this many subschema applications, plus
// kApplicationsPerNode for each of its values, so any value is fine under a schema that applies
// a few subschemas to each of its parts, and no schema can make a small value cost seconds.
constexpr uint64_t kBaseApplications = 1'000'000;
constexpr uint64_t kApplicationsPerNode = 16;

// Refuses what JSON text cannot carry: valijson's multipleOf casts a NaN to int64, and its
// maxLength reads past a table on malformed UTF-8. Long keys: see json_schema.h.
Status check_instance(const Json& value, Path& path, std::string_view root, size_t max_key,
                      size_t max_depth, uint64_t& nodes) {
  ++nodes;
  if (path.size() >= max_depth && (value.is_array() || value.is_object())) {
    return Status::invalid_argument("{}: nested more than {} levels deep",
                                    render_json_path(path, root), max_depth);
  }
  if (value.is_double() && !std::isfinite(value.as_double())) {
    return Status::invalid_argument("{}: {} is not a JSON number", render_json_path(path, root),
                                    value.as_double());
  }
  if (value.is_string() && !is_valid_utf8(value.as_string())) {
    return Status::invalid_argument("{}: string is not valid UTF-8", render_json_path(path, root));
  }
  for (size_t i = 0; value.is_array() && i < value.size(); ++i) {
    path.push_back({.index = i});
    ARTANA_RETURN_IF_ERROR(
        check_instance(value.as_array()[i], path, root, max_key, max_depth, nodes));
    path.pop_back();
  }
  for (size_t i = 0; value.is_object() && i < value.size(); ++i) {
    const Json::Member& m = value.as_object()[i];
    path.push_back(key_segment(m.first));
    if (!is_valid_utf8(m.first)) {
      return Status::invalid_argument("{}: property name is not valid UTF-8",
                                      render_json_path(path, root));
    }
    if (m.first.size() > max_key) {
      return Status::invalid_argument(
          "{}: property name of {} bytes is longer than the {} matched against "
          "\"patternProperties\"",
          render_json_path(path, root), m.first.size(), max_key);
    }
    ARTANA_RETURN_IF_ERROR(check_instance(m.second, path, root, max_key, max_depth, nodes));
    path.pop_back();
  }
  return {};
}

Status run(const Compiled& compiled, const Json& value, std::string_view root, const Json& schema,
           bool meta) {
  Path path;
  uint64_t nodes = 0;
  ARTANA_RETURN_IF_ERROR(check_instance(
      value, path, root, compiled.has_pattern_properties ? kMaxPatternKeyBytes : SIZE_MAX,
      meta ? kMaxSchemaDepth : kMaxValueDepth, nodes));
  if (!meta) {  // the meta-schema is known to apply a few subschemas per node
    const uint64_t limit = kBaseApplications + kApplicationsPerNode * nodes;
    if (schema::count_applications(schema, meta_schema().source, value, limit) > limit) {
      return Status::invalid_argument(
          "{}: validating it would apply subschemas more than {} times (the schema applies "
          "its \"$ref\", \"allOf\", \"anyOf\" or \"oneOf\" subschemas again at every level of "
          "the value)",
          root, limit);
    }
  }
  // valijson's Validator holds its regex cache and so is not thread-safe; a visitor with a
  // copy of ours is (the visitor may add to the cache).
  RegexCache regexes = compiled.regexes;
  valijson::ValidationResults results;
  valijson::ValidationVisitor<JsonAdapter> visitor(JsonAdapter(value), {"<root>"},
                                                   /*strictTypes=*/true, &results, regexes);
  if (visitor.validateSchema(compiled.schema)) return {};
  valijson::ValidationResults::Error first;
  if (!results.popError(first)) return Status::invalid_argument("{}: fails the schema", root);
  return Status(StatusCode::kInvalidArgument, describe(first, value, root, schema, meta));
}

Status compile_into(const Json& source, Compiled& out) {
  Json prepared = source;
  ARTANA_RETURN_IF_ERROR(prepare_schema(prepared, meta_schema().source, out));
  try {
    valijson::SchemaParser(valijson::SchemaParser::kDraft7)
        .populateSchema<JsonAdapter>(
            JsonAdapter(prepared), out.schema,
            [](const std::string& uri) -> const Json* {  // check_ref allowed only this one
              return uri == kMetaSchemaUri ? new Json(meta_schema().served) : nullptr;
            },
            [](const Json* doc) { delete doc; });
  } catch (...) {
    return exception_status("schema");
  }
  return {};
}

}  // namespace

struct JsonSchema::Impl {
  Json source;
  Compiled compiled;
};

// Everything below may allocate, so the boundary catches too (STYLE.md §4).
Result<JsonSchema> JsonSchema::compile(const Json& schema) try {
  const MetaSchema& meta = meta_schema();
  ARTANA_RETURN_IF_ERROR(meta.status);
  ARTANA_RETURN_IF_ERROR(run(meta.compiled, schema, "schema", meta.source, /*meta=*/true));
  auto impl = std::make_shared<Impl>();
  impl->source = schema;
  ARTANA_RETURN_IF_ERROR(compile_into(schema, impl->compiled));
  return JsonSchema(std::move(impl));
} catch (...) {
  return exception_status("compiling schema");
}

Status JsonSchema::validate(const Json& value, std::string_view root) const try {
  return run(impl_->compiled, value, root, impl_->source, /*meta=*/false);
} catch (...) {
  return exception_status(fmt::format("validating {}", root));
}

const Json& JsonSchema::schema() const { return impl_->source; }

}  // namespace artana::kernel
