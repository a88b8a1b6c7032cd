// The schema shorthand (schema_shorthand.h): what each form becomes, every error with the
// path it names, and that the schemas it makes accept and refuse documents as a script
// author expects when compiled by kernel::JsonSchema.
#include "artana/lua/schema_shorthand.h"

#include <lua.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>

#include "artana/kernel/json_parse.h"
#include "artana/kernel/json_schema.h"
#include "artana/lua/lua_json.h"

namespace artana::lua {
namespace {

using kernel::Json;

struct State {
  State() : L(luaL_newstate()) {}
  ~State() { lua_close(L); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  lua_State* L;
};

// The JSON a script's `schema = <expr>` reaches schema_from_shorthand as.
Json lua_value(const std::string& expr) {
  State state;
  const std::string chunk = "return " + expr;
  REQUIRE(luaL_dostring(state.L, chunk.c_str()) == LUA_OK);
  Result<Json> out = to_json(state.L, -1, "schema");
  REQUIRE(out.ok());
  return *out;
}

// Member order matters here (the output must be deterministic), so no canonical sorting.
std::string dump(const Json& v) {
  switch (v.type()) {
    case Json::Type::kNull:
      return "null";
    case Json::Type::kBool:
      return v.as_bool() ? "true" : "false";
    case Json::Type::kInteger:
      return std::to_string(v.as_integer());
    case Json::Type::kDouble:
      return fmt::format("{}", v.as_double());
    case Json::Type::kString:
      return '"' + v.as_string() + '"';
    case Json::Type::kArray: {
      std::string out = "[";
      for (const Json& item : v.as_array()) out += (out.size() > 1 ? "," : "") + dump(item);
      return out + "]";
    }
    case Json::Type::kObject: {
      std::string out = "{";
      for (const auto& [key, value] : v.as_object())
        out += (out.size() > 1 ? ",\"" : "\"") + key + "\":" + dump(value);
      return out + "}";
    }
  }
  return "?";
}

// The JSON Schema `expr` (Lua) becomes, as text.
std::string schema_of(const std::string& expr) {
  Result<Json> schema = schema_from_shorthand(lua_value(expr), "schema");
  INFO(expr);
  if (!schema.ok()) FAIL(schema.status().message());
  return dump(*schema);
}

std::string error_of(const Json& shorthand, std::string_view root = "schema") {
  Result<Json> schema = schema_from_shorthand(shorthand, root);
  REQUIRE_FALSE(schema.ok());
  CHECK(schema.status().code() == StatusCode::kInvalidArgument);
  return schema.status().message();
}

std::string error_from_lua(const std::string& expr) { return error_of(lua_value(expr)); }

kernel::JsonSchema compiled(const std::string& expr) {
  Result<Json> schema = schema_from_shorthand(lua_value(expr), "schema");
  REQUIRE(schema.ok());
  Result<kernel::JsonSchema> out = kernel::JsonSchema::compile(*schema);
  if (!out.ok()) FAIL(out.status().message());
  return *out;
}

Json parsed(std::string_view text) {
  Result<Json> out = kernel::parse_json(text, "test");
  REQUIRE(out.ok());
  return *out;
}

bool accepts(const kernel::JsonSchema& schema, std::string_view document) {
  Status status = schema.validate(parsed(document), "output");
  INFO(document << " -> " << status.message());
  return status.ok();
}

// `depth` tables, each the only member `x` of the one around it.
Json nested(int depth) {
  Json value = "string";
  for (int i = 0; i < depth; ++i) value = Json::object({{"x", std::move(value)}});
  return value;
}

TEST_CASE("each type name becomes its JSON Schema type and any becomes the empty schema",
          "[lua][schema_shorthand]") {
  CHECK(schema_of("'string'") == R"({"type":"string"})");
  CHECK(schema_of("'number'") == R"({"type":"number"})");
  CHECK(schema_of("'integer'") == R"({"type":"integer"})");
  CHECK(schema_of("'boolean'") == R"({"type":"boolean"})");
  CHECK(schema_of("'any'") == "{}");
}

TEST_CASE("a table is a closed object whose members are required unless marked with ?",
          "[lua][schema_shorthand]") {
  CHECK(schema_of("{ text = 'string', score = 'number?', tags = { 'string' }, meta = { ok = "
                  "'boolean' } }") ==
        R"({"type":"object","properties":{"meta":{"type":"object","properties":{"ok":)"
        R"({"type":"boolean"}},"required":["ok"],"additionalProperties":false},"score":)"
        R"({"type":"number"},"tags":{"type":"array","items":{"type":"string"}},"text":)"
        R"({"type":"string"}},"required":["meta","tags","text"],"additionalProperties":false})");
  CHECK(schema_of("{ note = 'any?' }") ==
        R"({"type":"object","properties":{"note":{}},"additionalProperties":false})");
}

TEST_CASE("an empty table is any object", "[lua][schema_shorthand]") {
  CHECK(schema_of("{}") == R"({"type":"object"})");
  kernel::JsonSchema schema = compiled("{ meta = {} }");
  CHECK(accepts(schema, R"({"meta":{}})"));
  CHECK(accepts(schema, R"({"meta":{"anything":[1,2]}})"));
  CHECK_FALSE(accepts(schema, R"({"meta":[]})"));
  CHECK_FALSE(accepts(schema, R"({"meta":"x"})"));
}

TEST_CASE("a one-element table is an array of that element", "[lua][schema_shorthand]") {
  CHECK(schema_of("{ { 'integer' } }") ==
        R"({"type":"array","items":{"type":"array","items":{"type":"integer"}}})");
  CHECK(schema_of("{ { id = 'integer' } }") ==
        R"({"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"}},)"
        R"("required":["id"],"additionalProperties":false}})");
}

TEST_CASE("properties and required come out sorted bytewise whatever the input order",
          "[lua][schema_shorthand]") {
  Json forward = Json::object({{"B", "string"}, {"a", "number?"}, {"é", "integer"}, {"_", "any"}});
  Json backward = Json::object({{"_", "any"}, {"é", "integer"}, {"a", "number?"}, {"B", "string"}});
  Result<Json> one = schema_from_shorthand(forward, "schema");
  Result<Json> two = schema_from_shorthand(backward, "schema");
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  CHECK(dump(*one) == dump(*two));
  CHECK(dump(*one) ==
        R"({"type":"object","properties":{"B":{"type":"string"},"_":{},"a":{"type":"number"},)"
        R"("é":{"type":"integer"}},"required":["B","_","é"],"additionalProperties":false})");
}

TEST_CASE("an unknown type name is an error naming the path and the accepted names",
          "[lua][schema_shorthand]") {
  CHECK(error_from_lua("{ meta = { ok = 'bool' } }") ==
        "schema.meta.ok: unknown type \"bool\" (expected string, number, integer, boolean or any)");
  CHECK(error_from_lua("'null'") ==
        "schema: unknown type \"null\" (expected string, number, integer, boolean or any)");
  CHECK(error_from_lua("{ x = 'String?' }") ==
        "schema.x: unknown type \"String\" (expected string, number, integer, boolean or any)");
  CHECK(error_from_lua("{ x = 'number?\?' }") ==
        "schema.x: unknown type \"number?\" (expected string, number, integer, boolean or any)");
  CHECK(error_from_lua("{ x = '?' }") ==
        "schema.x: unknown type \"\" (expected string, number, integer, boolean or any)");
}

TEST_CASE("? outside an object member is an error", "[lua][schema_shorthand]") {
  CHECK(error_from_lua("'number?'") ==
        "schema: \"number?\" is optional, but only an object member can be optional");
  CHECK(error_from_lua("{ tags = { 'string?' } }") ==
        "schema.tags[1]: \"string?\" is optional, but only an object member can be optional");
}

TEST_CASE("an array shorthand with other than one element is an error", "[lua][schema_shorthand]") {
  CHECK(error_from_lua("{ tags = { 'string', 'number' } }") ==
        "schema.tags: an array shorthand has exactly one element, the items' schema (write "
        "{ \"string\" } for an array of strings), not 2");
  CHECK(error_of(Json::object({{"tags", Json::array()}})) ==
        "schema.tags: an array shorthand has exactly one element, the items' schema (write "
        "{ \"string\" } for an array of strings), not 0");
}

TEST_CASE("numbers, booleans and null are not shorthand", "[lua][schema_shorthand]") {
  const std::string expected =
      " is not a schema shorthand (expected a type name such as \"string\", a table of "
      "members, or { \"string\" } for an array)";
  CHECK(error_from_lua("{ n = 42 }") == "schema.n: a number" + expected);
  CHECK(error_from_lua("{ n = 1.5 }") == "schema.n: a number" + expected);
  CHECK(error_from_lua("{ { flag = true } }") == "schema[1].flag: a boolean" + expected);
  CHECK(error_of(Json()) == "schema: null" + expected);
}

TEST_CASE("error paths are Lua-style from the root the caller names", "[lua][schema_shorthand]") {
  CHECK(error_of(lua_value("{ ['odd key'] = { { ['2x'] = 'bool' } } }"), "args") ==
        "args[\"odd key\"][1][\"2x\"]: unknown type \"bool\" (expected string, number, integer, "
        "boolean or any)");
  CHECK(error_of(lua_value("{ items = { { name = 'str' } } }"), "args") ==
        "args.items[1].name: unknown type \"str\" (expected string, number, integer, boolean or "
        "any)");
  CHECK(error_of(lua_value("{ ['say \"hi\"'] = 5 }"), "args")
            .starts_with(R"(args["say \"hi\""]: a number is not)"));
  CHECK(error_of(Json::object({{"x", 5}}), "").starts_with("x: a number"));
}

TEST_CASE("member names starting with $ are reserved", "[lua][schema_shorthand]") {
  CHECK(error_from_lua("{ ['$schema'] = 'string' }") ==
        "schema[\"$schema\"]: member names starting with \"$\" are reserved");
  CHECK(error_from_lua("{ a = { ['$ref'] = 'string', b = 'string' } }") ==
        "schema.a[\"$ref\"]: member names starting with \"$\" are reserved");
}

TEST_CASE("a duplicate member name is an error", "[lua][schema_shorthand]") {
  CHECK(error_of(Json::object({{"a", "string"}, {"a", "number"}})) ==
        "schema: member \"a\" appears twice");
}

TEST_CASE("tables nest at most 64 levels deep", "[lua][schema_shorthand]") {
  CHECK(schema_from_shorthand(nested(kMaxShorthandDepth), "schema").ok());
  std::string path = "schema";
  for (int i = 0; i < kMaxShorthandDepth; ++i) path += ".x";
  CHECK(error_of(nested(kMaxShorthandDepth + 1)) == path + ": tables nest deeper than 64 levels");
  Json items = "string";
  for (int i = 0; i < kMaxShorthandDepth + 1; ++i) items = Json::array({std::move(items)});
  CHECK(error_of(items).ends_with("]: tables nest deeper than 64 levels"));
}

TEST_CASE("$json_schema is used as is anywhere, at the root too", "[lua][schema_shorthand]") {
  CHECK(schema_of("{ ['$json_schema'] = { type = 'string', enum = { 'a', 'b' } } }") ==
        R"({"enum":["a","b"],"type":"string"})");
  CHECK(schema_of("{ n = { ['$json_schema'] = { type = 'integer', minimum = 1 } } }") ==
        R"({"type":"object","properties":{"n":{"minimum":1,"type":"integer"}},)"
        R"("required":["n"],"additionalProperties":false})");
  CHECK(schema_of("{ { ['$json_schema'] = { type = 'string', maxLength = 3 } } }") ==
        R"({"type":"array","items":{"maxLength":3,"type":"string"}})");
  CHECK(schema_of("{ x = { ['$json_schema'] = true } }") ==
        R"({"type":"object","properties":{"x":true},"required":["x"],)"
        R"("additionalProperties":false})");
  // At the root a local $ref still points into the schema the script wrote.
  CHECK(schema_of("{ ['$json_schema'] = { definitions = { n = { type = 'integer' } }, "
                  "['$ref'] = '#/definitions/n' } }") ==
        R"({"$ref":"#/definitions/n","definitions":{"n":{"type":"integer"}}})");

  kernel::JsonSchema schema =
      compiled("{ n = { ['$json_schema'] = { type = 'integer', minimum = 1 } } }");
  CHECK(accepts(schema, R"({"n":3})"));
  CHECK_FALSE(accepts(schema, R"({"n":0})"));
}

TEST_CASE("a $json_schema that does not compile is an error naming where and why",
          "[lua][schema_shorthand]") {
  CHECK(error_from_lua("{ meta = { ['$json_schema'] = { type = 'strng' } } }") ==
        "schema.meta[\"$json_schema\"].type: 'strng' is not a JSON Schema type");
  CHECK(error_from_lua("{ { ['$json_schema'] = { type = 'object', properties = { n = { "
                       "minimum = 'one' } } } } }") ==
        "schema[1][\"$json_schema\"].properties.n.minimum: 'one' is not of type number");
  CHECK(error_from_lua("{ meta = { ['$json_schema'] = 'string' } }") ==
        "schema.meta: \"$json_schema\" must be a JSON Schema table, not a string");
  CHECK(error_from_lua("{ meta = { ['$json_schema'] = { type = 'string' }, x = 'string' } }") ==
        "schema.meta: a table with \"$json_schema\" must have no other member (it has 2)");
}

TEST_CASE("a nested $json_schema may not hold a local $ref", "[lua][schema_shorthand]") {
  CHECK(error_from_lua("{ n = { ['$json_schema'] = { definitions = { n = { type = 'integer' } }, "
                       "['$ref'] = '#/definitions/n' } } }") ==
        "schema.n: \"$json_schema\" has \"$ref\": \"#/definitions/n\", which would resolve "
        "against the whole generated schema; inline what it refers to, or make the whole "
        "schema a $json_schema");
}

TEST_CASE("$optional makes a table or array member optional", "[lua][schema_shorthand]") {
  CHECK(schema_of("{ id = 'integer', meta = { ['$optional'] = { ok = 'boolean' } }, "
                  "tags = { ['$optional'] = { 'string' } } }") ==
        R"({"type":"object","properties":{"id":{"type":"integer"},"meta":{"type":"object",)"
        R"("properties":{"ok":{"type":"boolean"}},"required":["ok"],)"
        R"("additionalProperties":false},"tags":{"type":"array","items":{"type":"string"}}},)"
        R"("required":["id"],"additionalProperties":false})");
  CHECK(schema_of("{ n = { ['$optional'] = { ['$json_schema'] = { type = 'integer' } } } }") ==
        R"({"type":"object","properties":{"n":{"type":"integer"}},)"
        R"("additionalProperties":false})");
  CHECK(schema_of("{ n = { ['$optional'] = 'number' } }") ==
        R"({"type":"object","properties":{"n":{"type":"number"}},"additionalProperties":false})");
}

TEST_CASE("$optional anywhere but an object member's value is an error",
          "[lua][schema_shorthand]") {
  CHECK(error_from_lua("{ ['$optional'] = { ok = 'boolean' } }") ==
        "schema: \"$optional\" can only wrap an object member's value");
  CHECK(error_from_lua("{ tags = { { ['$optional'] = 'string' } } }") ==
        "schema.tags[1]: \"$optional\" can only wrap an object member's value");
  CHECK(error_from_lua("{ a = { ['$optional'] = { ['$optional'] = 'string' } } }") ==
        "schema.a: \"$optional\" is inside \"$optional\"; wrap the member once");
  CHECK(error_from_lua("{ a = { ['$optional'] = 'string?' } }") ==
        "schema.a: \"string?\" is inside \"$optional\", which already makes the member optional");
  CHECK(error_from_lua("{ a = { ['$optional'] = 'string', b = 'string' } }") ==
        "schema.a: a table with \"$optional\" must have no other member (it has 2)");
  CHECK(error_from_lua("{ a = { ['$optional'] = { x = 'bool' } } }") ==
        "schema.a.x: unknown type \"bool\" (expected string, number, integer, boolean or any)");
}

TEST_CASE("is_full_json_schema recognises only the $json_schema escape hatch",
          "[lua][schema_shorthand]") {
  CHECK(is_full_json_schema(lua_value("{ ['$json_schema'] = { type = 'string' } }")));
  CHECK_FALSE(is_full_json_schema(lua_value("{ type = 'string' }")));
  CHECK_FALSE(is_full_json_schema(lua_value("{ ['$optional'] = 'string' }")));
  CHECK_FALSE(is_full_json_schema(lua_value("'string'")));
}

TEST_CASE("a generated schema requires members, allows optional ones absent, refuses extras",
          "[lua][schema_shorthand]") {
  kernel::JsonSchema schema =
      compiled("{ text = 'string', score = 'number?', tags = { 'string' } }");
  CHECK(accepts(schema, R"({"text":"hi","score":0.5,"tags":["a"]})"));
  CHECK(accepts(schema, R"({"text":"hi","tags":[]})"));
  CHECK_FALSE(accepts(schema, R"({"score":1,"tags":[]})"));              // text missing
  CHECK_FALSE(accepts(schema, R"({"text":"hi","tags":[],"extra":1})"));  // not declared
  CHECK_FALSE(accepts(schema, R"({"text":5,"tags":[]})"));
  CHECK_FALSE(accepts(schema, R"({"text":"hi","tags":[1]})"));
  CHECK_FALSE(accepts(schema, R"({"text":"hi","score":null,"tags":[]})"));
  CHECK_FALSE(accepts(schema, R"(["text"])"));
}

TEST_CASE("a generated schema checks nested arrays of objects", "[lua][schema_shorthand]") {
  kernel::JsonSchema schema =
      compiled("{ rows = { { id = 'integer', cells = { { 'number' } }, note = 'any?' } } }");
  CHECK(accepts(schema, R"({"rows":[]})"));
  CHECK(accepts(schema,
                R"({"rows":[{"id":1,"cells":[[1,2.5],[]]},{"id":2,"cells":[],"note":[null]}]})"));
  CHECK_FALSE(accepts(schema, R"({"rows":[{"id":1.5,"cells":[]}]})"));
  CHECK_FALSE(accepts(schema, R"({"rows":[{"id":1}]})"));
  CHECK_FALSE(accepts(schema, R"({"rows":[{"id":1,"cells":[["x"]]}]})"));
  CHECK_FALSE(accepts(schema, R"({"rows":[{"id":1,"cells":[],"other":true}]})"));
  CHECK_FALSE(accepts(schema, R"({"rows":{"id":1,"cells":[]}})"));
}

TEST_CASE("optional members made with $optional may be absent but are checked when present",
          "[lua][schema_shorthand]") {
  kernel::JsonSchema schema =
      compiled("{ id = 'integer', meta = { ['$optional'] = { ok = 'boolean' } } }");
  CHECK(accepts(schema, R"({"id":1})"));
  CHECK(accepts(schema, R"({"id":1,"meta":{"ok":true}})"));
  CHECK_FALSE(accepts(schema, R"({"id":1,"meta":{}})"));
  CHECK_FALSE(accepts(schema, R"({"meta":{"ok":true}})"));
}

}  // namespace
}  // namespace artana::lua
