// JsonSchema: a compiled JSON Schema (draft 7) that validates Json values, such as a tool's
// arguments, on valijson. Immutable after compile(); copies share it, and any number of
// threads may validate with it at once.
//
// What is supported, and what is not (compile() rejects the latter, naming where):
// - "$ref" to "#..." JSON pointers within the schema, and to the draft-07 meta-schema
//   (http://json-schema.org/draft-07/schema#), which is built in. Nothing is ever fetched:
//   any other URI, plain-name fragments ("#foo") and "$id"-relative references are refused.
//   Like draft 7, keywords beside "$ref" are ignored.
// - A schema whose "$ref"/"allOf"/"anyOf"/"oneOf"/"not"/"if"/"then"/"else"/"dependencies"
//   lead back to itself without descending into the value is refused: validating with it
//   would never end. So is one whose in-place keywords apply more than 10 000 subschemas to
//   one value or chain more than 128 deep, and validate() refuses a value whose validation
//   would apply subschemas more than 1 000 000 + 16 per value in it times
//   (json_schema/schema_cost.h): valijson re-applies a subschema on every path to it.
// - "format" is an annotation only, as draft 7 §7.2 allows: valijson 1.0 checks just date,
//   time and date-time, and fails or throws on non-string values under any format, so
//   formats are dropped before it sees the schema.
// - "pattern" and "patternProperties" use std::regex's ECMAScript grammar, run in linear
//   space so long strings cannot exhaust the stack; back-references are refused, and so
//   are instance property names over 1024 bytes when the schema has "patternProperties"
//   (valijson matches those with a recursive matcher). Regexes see bytes, not code points.
// - Values that JSON text cannot carry (NaN, infinities, invalid UTF-8) are refused by
//   validate().
// - Integers and doubles are compared as doubles, so integers beyond ±2^53 (which
//   parse_json refuses anyway) may compare equal to a neighbour.
#pragma once

#include <memory>
#include <string_view>
#include <utility>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

class JsonSchema {
 public:
  // invalid_argument naming the problem and where, when `schema` is not a usable draft-7
  // schema: "schema.properties.age.type: 'strng' is not a JSON Schema type". `schema` is
  // first checked against the draft-07 meta-schema, so a misspelt keyword value is an
  // error here rather than a surprise at validation time.
  static Result<JsonSchema> compile(const Json& schema);

  // ok, or invalid_argument naming the first failing path, written from `root` like
  // json_path.h does, and what failed: "args.age: 'x' is not of type integer".
  Status validate(const Json& value, std::string_view root = "args") const;

  // The schema as given to compile().
  const Json& schema() const;

 private:
  struct Impl;
  explicit JsonSchema(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace artana::kernel
