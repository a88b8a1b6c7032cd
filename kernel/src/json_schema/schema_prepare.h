// What json_schema.cc and schema_errors.cc need from schema_prepare.cc: a schema checked and
// readied for valijson, the built-in draft-07 meta-schema, and the JSON pointer resolution
// that "$ref" uses. Thread-safe; meta_schema() is built once, on first use.
#pragma once

#include "json_schema/valijson.h"

#include <cstddef>
#include <regex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "json_path.h"

namespace artana::kernel::schema {

// The only URI a "$ref" may name besides "#..." (check_ref); it is served from memory.
inline constexpr std::string_view kMetaSchemaUri = "http://json-schema.org/draft-07/schema";

using Path = std::vector<PathSegment>;
using RegexCache = std::unordered_map<std::string, std::regex>;

struct Compiled {
  valijson::Schema schema;
  RegexCache regexes;  // every "pattern", precompiled (see add_regex)
  bool has_pattern_properties = false;
};

// Every schema is first validated against the meta-schema, and a "$ref" to it is served
// from memory.
struct MetaSchema {
  Json source;
  // `source` prepared, plus "id": valijson scopes by that draft-4 keyword (not "$id"), and
  // without a scope its "#" pointers would share a cache with the referring document's.
  Json served;
  Compiled compiled;
  Status status;  // not ok only if kMetaSchemaText is broken

  MetaSchema() : status(init()) {}
  Status init();
};

const MetaSchema& meta_schema();

// Checks `schema` and readies it for valijson, in place: see schema_prepare.cc's file
// comment. `meta` is the meta-schema's source, which a "$ref" may point into; `out` gets the
// regexes. invalid_argument names what is refused and where.
Status prepare_schema(Json& schema, const Json& meta, Compiled& out);

inline PathSegment key_segment(std::string_view key) { return {.key = key, .is_key = true}; }

// A JSON pointer's array index: decimal digits, no leading zero.
bool parse_index(std::string_view text, size_t& index);

// The node a "#..." reference names in `root` (RFC 6901 §6: percent-decode, then split on
// '/' and unescape "~1" and "~0"), or nullptr.
const Json* resolve_pointer(const Json& root, std::string_view ref);

}  // namespace artana::kernel::schema
