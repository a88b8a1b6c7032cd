// A step's output schema in the form strict structured outputs accept, and the answer
// brought back to the original schema's form.
#include <catch2/catch.hpp>

#include "artana/kernel/json_parse.h"
#include "strict_schema.h"

using artana::io::answer_for_original;
using artana::io::strict_schema;
using artana::kernel::Json;

namespace {

Json json(std::string_view text) {
  auto parsed = artana::kernel::parse_json(text);
  REQUIRE(parsed.ok());
  return *parsed;
}

}  // namespace

TEST_CASE("objects are closed, optional members made nullable, refused keywords left out",
          "[io][schema]") {
  const Json original = json(R"({
    "type": "object",
    "properties": {
      "title": {"type": "string", "minLength": 3, "description": "a title"},
      "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "maxItems": 5},
      "owner": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
      "note": {"type": ["string", "null"]}
    },
    "required": ["title", "owner"]})");
  const auto sent = strict_schema(original);
  CHECK(sent.strict);
  CHECK_FALSE(sent.wrapped);
  CHECK(sent.schema == json(R"({
    "type": "object",
    "properties": {
      "title": {"type": "string", "description": "a title"},
      "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
      "owner": {"type": "object", "properties": {"name": {"type": "string"}},
                "required": ["name"], "additionalProperties": false},
      "note": {"type": ["string", "null"]}
    },
    "required": ["title", "tags", "owner", "note"],
    "additionalProperties": false})"));

  // The model fills the optional `tags` with null: the original never allowed that.
  const Json answer = json(R"({"title": "Fix", "tags": null, "owner": {"name": "ana"},
                               "note": null})");
  CHECK(answer_for_original(answer, original, sent) ==
        json(R"({"title": "Fix", "owner": {"name": "ana"}, "note": null})"));
}

TEST_CASE("a root that is not a record is wrapped as {value} and unwrapped after", "[io][schema]") {
  const Json original = json(R"({"type": "array", "items": {"$ref": "#/$defs/step"},
    "$defs": {"step": {"type": "object", "properties": {"n": {"type": "integer"}}}}})");
  const auto sent = strict_schema(original);
  CHECK(sent.strict);
  REQUIRE(sent.wrapped);
  CHECK(sent.schema.find("type")->as_string() == "object");
  CHECK(sent.schema.find("required")->as_array() == Json::array({"value"}).as_array());
  REQUIRE(sent.schema.find("$defs") != nullptr);  // kept at the root, where $ref looks
  CHECK(*sent.schema.find("$defs")->find("step")->find("required") == Json::array({"n"}));
  CHECK(sent.schema.find("properties")->find("value")->find("$defs") == nullptr);
  const Json answer = json(R"({"value": [{"n": 1}, {"n": null}]})");
  CHECK(answer_for_original(answer, original, sent) == json(R"([{"n": 1}, {}])"));

  const auto scalar = strict_schema(json(R"({"type": "string", "enum": ["yes", "no"]})"));
  CHECK(scalar.strict);
  CHECK(scalar.wrapped);
  CHECK(answer_for_original(json(R"({"value": "yes"})"), json(R"({"type": "string"})"), scalar) ==
        Json("yes"));
}

TEST_CASE("what a closed schema cannot say is sent as it is, not strict", "[io][schema]") {
  for (
      const char* open :
      {R"({"type": "object"})", R"({"type": "object", "additionalProperties": {"type": "number"}})",
       R"({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}]}}})",
       R"({"type": "object", "properties": {"a": {"type": "array", "items": [{"type": "string"}]}}})",
       R"({"type": "object", "properties": {"a": {"not": {"type": "null"}}}})"}) {
    INFO(open);
    const Json original = json(open);
    const auto sent = strict_schema(original);
    CHECK_FALSE(sent.strict);
    CHECK_FALSE(sent.wrapped);
    CHECK(sent.schema == original);
    // Not strict: nulls are the model's own, left for the validator to judge.
    CHECK(answer_for_original(json(R"({"a": null})"), original, sent) == json(R"({"a": null})"));
  }
}
