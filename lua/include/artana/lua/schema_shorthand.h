// The schema shorthand scripts write for model output schemas and tool argument schemas,
// and its translation to JSON Schema draft 7 (what kernel::JsonSchema compiles):
//
//   schema = { text = "string", score = "number?", tags = { "string" }, meta = { ok = "boolean" } }
//
// The contract, as scripts see it (the script's table reaches us as JSON, via to_json):
// - A string is a type name: "string", "number", "integer", "boolean", or "any" (any value:
//   `{}`). Nothing else: "null", "object", "array", "bool", "int" are errors.
//   A "?" suffix ("number?") makes an object member optional: it is left out of "required".
//   A "?" anywhere else (the whole schema, an array's item) is an error.
// - A table with string keys is an object with exactly those members:
//     {"type":"object","properties":{...},"required":[...],"additionalProperties":false}
//   "properties" and "required" are sorted bytewise (code point order); "required" lists
//   every member not marked optional and is left out when that list is empty.
//   An empty table `{}` is any object: {"type":"object"}, members unrestricted.
// - A table with one element, { <item> }, is an array of <item>:
//   {"type":"array","items":<item>}. Any other length (`artana.array()` included) is an error;
//   there is no shorthand for tuples, use $json_schema.
// - Escape hatches, tables with one member that the Lua module writes for the script:
//   { ["$json_schema"] = <JSON Schema> } anywhere is that draft-7 schema (a table, or true/
//   false), unchanged. It must compile with kernel::JsonSchema; the error names the path
//   inside it: `schema.meta["$json_schema"].type: 'strng' is not a JSON Schema type`.
//   Anywhere but the root, its "$ref"s may not start with "#": they would resolve against
//   the whole generated schema, not against the table the script wrote.
//   { ["$optional"] = <shorthand> } as an object member's value makes that member optional
//   (for tables and arrays, which cannot take a "?"); anywhere else it is an error, and
//   the wrapped shorthand may not be optional again.
//   Any other member name starting with "$" is reserved, and an error.
// - Numbers, booleans and null are not shorthand: errors. So is a member named twice (only
//   a hand-built Json can hold one; to_json never makes it).
// - Tables nest at most kMaxShorthandDepth deep (the root table is level 1; what a
//   $json_schema holds does not count).
// Errors are invalid_argument, naming the path Lua-style from `root` ("schema.meta.ok",
// `schema["odd key"]`, "schema.tags[1]" for an array's item) and what is wrong:
//   schema.meta.ok: unknown type "bool" (expected string, number, integer, boolean or any)
//
// The output is deterministic: the same shorthand gives the same Json, members in the same
// order, whatever order the input object's members come in. Pure functions, thread-safe.
#pragma once

#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::lua {

inline constexpr int kMaxShorthandDepth = 64;

// `shorthand`: the JSON form of the script's value; `root` names it in errors ("schema",
// "args").
Result<kernel::Json> schema_from_shorthand(const kernel::Json& shorthand, std::string_view root);

// True when `value` is the escape hatch { ["$json_schema"] = ... } (an object whose only
// member is "$json_schema"). No guessing beyond that: { type = "string" } is shorthand for an
// object with a member named "type", not a JSON Schema.
bool is_full_json_schema(const kernel::Json& value);

}  // namespace artana::lua
