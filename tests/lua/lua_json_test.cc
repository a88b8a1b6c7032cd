// Lua <-> JSON values: round trips, every rejection with its path, limits, memory errors.
#include "artana/lua/lua_json.h"

#include <lua.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <limits>
#include <string>

#include "artana/kernel/canonical_json.h"

namespace artana::lua {
namespace {

using kernel::Json;

struct State {
  State() : L(luaL_newstate()) { luaL_openlibs(L); }
  ~State() { lua_close(L); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  lua_State* L;
};

// Runs `return <expr>` and converts the result; the stack is as it was afterwards. Every
// conversion is also written as canonical text straight from the value
// (append_canonical_lua), which must be what the tree canonicalizes to, byte for byte, or
// the same error with nothing written: so each case below checks both walks.
Result<Json> convert(lua_State* L, const std::string& expr, std::string_view root = "args") {
  const std::string chunk = expr.rfind("local", 0) == 0 ? expr : "return " + expr;
  REQUIRE(luaL_dostring(L, chunk.c_str()) == LUA_OK);
  const int top = lua_gettop(L);
  Result<Json> out = to_json(L, -1, root);
  REQUIRE(lua_gettop(L) == top);
  std::string text = "prefix";
  const Status written = append_canonical_lua(L, -1, root, text);
  REQUIRE(lua_gettop(L) == top);
  if (out.ok()) {
    REQUIRE(written.ok());
    Result<std::string> canonical = kernel::canonical_json(*out, root);
    REQUIRE(canonical.ok());
    CHECK(text == "prefix" + *canonical);
  } else {
    REQUIRE_FALSE(written.ok());
    CHECK(written.message() == out.status().message());
    CHECK(text == "prefix");
  }
  lua_pop(L, 1);
  return out;
}

std::string error_of(lua_State* L, const std::string& expr) {
  Result<Json> out = convert(L, expr);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().code() == StatusCode::kInvalidArgument);
  return out.status().message();
}

Json round_trip(lua_State* L, const Json& value) {
  const int top = lua_gettop(L);
  REQUIRE(push_json(L, value) == LUA_OK);
  REQUIRE(lua_gettop(L) == top + 1);
  Result<Json> back = to_json(L, -1, "value");
  lua_pop(L, 1);
  REQUIRE(back.ok());
  return *back;
}

std::string canonical(const Json& value) {
  Result<std::string> text = kernel::canonical_json(value);
  REQUIRE(text.ok());
  return *text;
}

Json nested_arrays(int depth) {
  Json value = Json::array();
  for (int i = 1; i < depth; ++i) value = Json::array({std::move(value)});
  return value;
}

TEST_CASE("every JSON shape survives push_json then to_json unchanged", "[lua]") {
  State s;
  const Json value = Json::object({
      {"null", nullptr},
      {"yes", true},
      {"no", false},
      {"int", int64_t{-42}},
      {"half", 0.5},
      {"big", 1e300},
      {"text", "héllo ✓ 𝄞"},
      {"nul", std::string("a\0b", 3)},
      {"list", Json::array({1, "two", Json::array({3.25}), Json::object({{"k", "v"}})})},
      {"empty_list", Json::array()},
      {"empty_object", Json::object()},
      {"lists_of_empties", Json::array({Json::array(), Json::object()})},
      {"ключ", "значение"},
  });
  Json expected = value;
  expected.as_object().erase(expected.as_object().begin());  // a null member becomes nil
  CHECK(canonical(round_trip(s.L, value)) == canonical(expected));
  CHECK(round_trip(s.L, Json()).is_null());
  CHECK(round_trip(s.L, Json("just a string")) == Json("just a string"));
}

TEST_CASE("an empty array comes back as an array and an empty object as an object", "[lua]") {
  State s;
  CHECK(round_trip(s.L, Json::array()).is_array());
  CHECK(round_trip(s.L, Json::object()).is_object());
  CHECK(convert(s.L, "{}")->is_object());

  lua_newtable(s.L);
  CHECK_FALSE(is_marked_array(s.L, -1));
  mark_array(s.L, -1);
  CHECK(is_marked_array(s.L, -1));
  Result<Json> marked = to_json(s.L, -1, "args");
  REQUIRE(marked.ok());
  CHECK(marked->is_array());
  CHECK(marked->size() == 0);
  // The marker is protected: a script sees a name, not the shared metatable.
  lua_setglobal(s.L, "marked");
  REQUIRE(luaL_dostring(s.L, "return getmetatable(marked)") == LUA_OK);
  CHECK(std::string(lua_tostring(s.L, -1)) == "artana.array");
  lua_pop(s.L, 1);
}

TEST_CASE("an array marker on a table with string keys is an error naming the key", "[lua]") {
  State s;
  REQUIRE(luaL_dostring(s.L, "return {name = 'x'}") == LUA_OK);
  mark_array(s.L, -1);
  Result<Json> out = to_json(s.L, -1, "args");
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().message() == "args: table marked as an array has string key \"name\"");
}

TEST_CASE("numbers keep their subtype and integral floats cross as integers", "[lua]") {
  State s;
  Result<Json> one = convert(s.L, "1.0");
  CHECK(one->is_integer());
  CHECK(one->as_integer() == 1);
  Result<Json> minus_zero = convert(s.L, "-0.0");
  CHECK(minus_zero->is_integer());
  CHECK(minus_zero->as_integer() == 0);
  CHECK(convert(s.L, "2^53")->is_integer());
  CHECK(convert(s.L, "0.5")->is_double());
  // Floats past 2^53 are already approximations; JSON carries that double exactly.
  CHECK(convert(s.L, "2^63")->is_double());

  REQUIRE(push_json(s.L, Json(1.0)) == LUA_OK);
  CHECK_FALSE(lua_isinteger(s.L, -1));  // a JSON double is a Lua float on the way in
  lua_pop(s.L, 1);
  REQUIRE(push_json(s.L, Json(std::numeric_limits<int64_t>::max())) == LUA_OK);
  CHECK(lua_tointeger(s.L, -1) == LUA_MAXINTEGER);
  lua_pop(s.L, 1);
  REQUIRE(push_json(s.L, Json(std::numeric_limits<int64_t>::min())) == LUA_OK);
  CHECK(lua_tointeger(s.L, -1) == LUA_MININTEGER);
  lua_pop(s.L, 1);
}

TEST_CASE("integers up to 2^53 cross and one more is an error naming the path", "[lua]") {
  State s;
  CHECK(convert(s.L, "{n = 9007199254740992}")->find("n")->as_integer() == kernel::kMaxSafeInteger);
  CHECK(convert(s.L, "{n = -9007199254740992}")->find("n")->as_integer() ==
        -kernel::kMaxSafeInteger);
  CHECK(error_of(s.L, "{n = 9007199254740993}") ==
        "args.n: integer 9007199254740993 is beyond ±2^53, which JSON cannot carry exactly; pass "
        "it as a string");
  CHECK(error_of(s.L, "{n = -9007199254740993}").find("args.n: integer -9007199254740993") == 0);
  CHECK(error_of(s.L, "{math.maxinteger}").find("args[1]: integer 9223372036854775807") == 0);
  CHECK(error_of(s.L, "{math.mininteger}").find("args[1]: integer -9223372036854775808") == 0);
}

TEST_CASE("NaN and infinities are errors naming the path", "[lua]") {
  State s;
  CHECK(error_of(s.L, "{x = {0/0}}") == "args.x[1]: number is NaN, which JSON cannot carry");
  CHECK(error_of(s.L, "{x = 1/0}") == "args.x: number is inf, which JSON cannot carry");
  CHECK(error_of(s.L, "{x = -1/0}") == "args.x: number is -inf, which JSON cannot carry");
}

TEST_CASE("strings and keys that are not UTF-8 are errors naming the path", "[lua]") {
  State s;
  CHECK(error_of(s.L, "{s = 'ok', t = {'\\xff'}}") ==
        "args.t[1]: string is not valid UTF-8 (pass bytes as base64 or hex)");
  CHECK(error_of(s.L, "{['\\xc3'] = 1}") == "args: key \"\\xC3\" is not valid UTF-8");
  // A string on its own (a prompt, a model name) is converted without a walk: the same rule.
  CHECK(error_of(s.L, "'caf\\xc3'") ==
        "args: string is not valid UTF-8 (pass bytes as base64 or hex)");
  REQUIRE(convert(s.L, "'caf\\xc3\\xa9'").ok());
  CHECK(convert(s.L, "'caf\\xc3\\xa9'")->as_string() == "caf\xc3\xa9");
}

TEST_CASE("functions, userdata and threads are errors naming the type and path", "[lua]") {
  State s;
  CHECK(error_of(s.L, "{list = {1, print}}") ==
        "args.list[2]: a function cannot cross as JSON (pass data: nil, boolean, number, string, "
        "table)");
  CHECK(error_of(s.L, "{['weird key'] = coroutine.create(print)}")
            .find("args[\"weird key\"]: a thread cannot cross") == 0);
  CHECK(error_of(s.L, "{items = {{}, {}, {name = io.stdout}}}")
            .find("args.items[3].name: a userdata cannot cross") == 0);
  Result<Json> unrooted = convert(s.L, "{list = {1, print}}", "");
  CHECK(unrooted.status().message().find("list[2]: a function") == 0);
}

TEST_CASE("tables with keys JSON cannot carry are errors naming the key", "[lua]") {
  State s;
  CHECK(error_of(s.L, "{x = {[1.5] = 1}}") ==
        "args.x: key 1.5 (a float) cannot cross as JSON (keys are strings, or 1..n for an array)");
  CHECK(error_of(s.L, "{[true] = 1}").find("args: key true (a boolean) cannot cross") == 0);
  CHECK(error_of(s.L, "{[{}] = 1}").find("args: key of type table cannot cross") == 0);
  CHECK(error_of(s.L, "{1, 2, name = 'x'}") ==
        "args: table mixes array items (key 1) and string keys (key \"name\"); JSON needs one or "
        "the other");
  CHECK(error_of(s.L, "{list = {1, nil, 3}}") ==
        "args.list: array has key 3 but 2 items; a JSON array needs keys 1..n without holes");
  CHECK(error_of(s.L, "{[0] = 'a', [1] = 'b'}").find("args: array has key 0 but 2 items") == 0);
}

TEST_CASE("a table that contains itself is an error naming where", "[lua]") {
  State s;
  CHECK(error_of(s.L, "local t = {a = {b = {}}}; t.a.b.c = t; return t") ==
        "a table contains itself at args.a.b.c (JSON cannot carry a cycle)");
  CHECK(error_of(s.L, "local t = {}; t[1] = t; return t").find("itself at args[1]") !=
        std::string::npos);
  // The same table twice, side by side, is not a cycle.
  Result<Json> shared = convert(s.L, "local x = {1}; return {a = x, b = x}");
  REQUIRE(shared.ok());
  CHECK(canonical(*shared) == R"({"a":[1],"b":[1]})");
  // Past the levels kept in place (16), the path is kept in a set: cycles are still found
  // there, and a table shared by two deep branches is still not one.
  CHECK(error_of(s.L,
                 "local root = {} local t = root for i = 1, 40 do t.n = {} t = t.n end "
                 "t.back = root.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n return root")
            .find("a table contains itself at args.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n") ==
        0);
  Result<Json> deep_shared = convert(s.L,
                                     "local root = {} local t = root for i = 1, 40 do t.n = {} "
                                     "t = t.n end local x = {1} t.a = x t.b = x "
                                     "local u = root for i = 1, 20 do u = u.n end u.c = x "
                                     "return root");
  REQUIRE(deep_shared.ok());
  CHECK(canonical(*deep_shared).find(R"("a":[1],"b":[1])") != std::string::npos);
}

TEST_CASE("tables nest up to 1024 levels and one more is an error", "[lua]") {
  State s;
  const std::string build = "local t = {} for i = 2, DEPTH do t = {t} end return t";
  auto nested = [&](int depth) {
    std::string chunk = build;
    chunk.replace(chunk.find("DEPTH"), 5, std::to_string(depth));
    return convert(s.L, chunk);
  };
  CHECK(nested(1024).ok());
  Result<Json> deep = nested(1025);
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.status().message().find(": tables nest deeper than 1024 levels") != std::string::npos);

  REQUIRE(push_json(s.L, nested_arrays(1024)) == LUA_OK);
  lua_pop(s.L, 1);
  const int top = lua_gettop(s.L);
  CHECK(push_json(s.L, nested_arrays(1025)) == LUA_ERRRUN);
  CHECK(std::string(lua_tostring(s.L, -1)).find("deeper than 1024") != std::string::npos);
  lua_pop(s.L, 1);
  CHECK(lua_gettop(s.L) == top);
}

TEST_CASE("metamethods are never called: only the raw table crosses", "[lua]") {
  State s;
  Result<Json> out = convert(s.L,
                             "setmetatable({a = 1}, {__index = function() error('index') end,"
                             " __pairs = function() error('pairs') end,"
                             " __len = function() error('len') end})");
  REQUIRE(out.ok());
  CHECK(canonical(*out) == R"({"a":1})");
  CHECK(canonical(*convert(s.L, "setmetatable({}, {__index = {x = 1}})")) == "{}");
}

TEST_CASE("object members come out sorted whatever the table's order", "[lua]") {
  State s;
  Result<Json> out = convert(s.L, "{zeta = 1, alpha = 2, mid = {b = 1, a = 2}}");
  REQUIRE(out.ok());
  CHECK(out->as_object()[0].first == "alpha");
  CHECK(out->as_object()[1].first == "mid");
  CHECK(out->find("mid")->as_object()[0].first == "a");
}

TEST_CASE("members are sorted with their values, for few members and for many", "[lua]") {
  State s;
  for (int n = 1; n <= 20; ++n) {
    // Keys k01..kNN inserted in a scrambled order, each with its number as its value.
    std::string code = "local t = {} ";
    for (int i = 0; i < n; ++i) {
      const int k = (n - 1 - i + n / 2) % n + 1;  // reversed, then rotated: a permutation
      code += fmt::format("t['k{:02d}'] = {} ", k, k);
    }
    code += "return t";
    Result<Json> out = convert(s.L, code, "");  // a chunk starting "local" runs as is
    INFO(n << " members: " << out.status().to_string());
    REQUIRE(out.ok());
    REQUIRE(out->as_object().size() == static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      const Json::Member& member = out->as_object()[static_cast<size_t>(i)];
      CHECK(member.first == fmt::format("k{:02d}", i + 1));
      CHECK(member.second.as_integer() == i + 1);
    }
  }
}

TEST_CASE(
    "canonical text written from a Lua value is its tree's: UTF-16 key order, escapes, numbers",
    "[lua]") {
  State s;
  // In UTF-8 byte order these keys sort e-acute, fi ligature, emoji; JCS compares UTF-16
  // code units, where the emoji's surrogate (D83D) comes before the ligature (FB01).
  Result<Json> keys =
      convert(s.L, R"({['\u{FB01}'] = 1, ['\u{1F600}'] = 2, ['\u{E9}'] = 3, z = 4})");
  REQUIRE(keys.ok());
  CHECK(canonical(*keys) == "{\"z\":4,\"\u00e9\":3,\"\U0001F600\":2,\"\uFB01\":1}");
  for (const char* expr :
       {R"({q = 'say "hi"\n\t\\', ctl = '\1\31\127', nul = 'a\0b', uni = '\u{2028}x'})",
        "{0.1, 1e21, -0.0, 2^53, 1.5e-7, -3, 123456789012, 1/3}",
        "{a = {b = {c = {d = {}}}}, list = {{}, {x = {1, {y = 'z'}}}}, t = true, f = false}",
        "{setmetatable({}, {__artana_json = 1}), {n = 1, m = 2, l = {3, 2, 1}}}", "'just a string'",
        "42", "true", "{}"}) {
    INFO(expr);
    CHECK(convert(s.L, expr).ok());  // convert compares the two walks
  }
  for (const char* bad : {"{a = 1, [2] = 3}", "{1, nil, 3}", R"({x = '\255'})", R"({['\255'] = 1})",
                          "{f = print}", "{0/0}", "{y = {[true] = 1}}"}) {
    INFO(bad);
    CHECK_FALSE(convert(s.L, bad).ok());  // the same error from both, nothing written
  }
}

// ---- A state with a memory limit ----------------------------------------------------------

struct Budget {
  size_t used = 0;
  size_t limit = std::numeric_limits<size_t>::max();
};

// lua_Alloc that refuses to grow past the limit, as the sandbox's limit will.
void* counting_alloc(void* ud, void* ptr, size_t old_size, size_t new_size) {
  auto* budget = static_cast<Budget*>(ud);
  const size_t old_bytes = ptr != nullptr ? old_size : 0;
  if (new_size == 0) {
    std::free(ptr);
    budget->used -= old_bytes;
    return nullptr;
  }
  if (new_size > old_bytes && budget->used - old_bytes + new_size > budget->limit) return nullptr;
  void* out = std::realloc(ptr, new_size);
  if (out != nullptr) budget->used = budget->used - old_bytes + new_size;
  return out;
}

TEST_CASE("pushing a value past the memory limit returns LUA_ERRMEM and the state lives on",
          "[lua]") {
  Budget budget;
  lua_State* L = lua_newstate(counting_alloc, &budget);
  REQUIRE(L != nullptr);
  luaL_openlibs(L);
  budget.limit = budget.used + 256 * 1024;

  Json big = Json::array();
  for (int i = 0; i < 20000; ++i)
    big.push_back(Json(std::string(100, 'a' + i % 26) + "#" + std::to_string(i)));
  const int top = lua_gettop(L);
  CHECK(push_json(L, big) == LUA_ERRMEM);
  CHECK(lua_gettop(L) == top + 1);  // the error object
  lua_pop(L, 1);
  lua_gc(L, LUA_GCCOLLECT);
  CHECK(budget.used <= budget.limit);

  // Still usable: a small value crosses both ways, and Lua code runs.
  const Json small = Json::object({{"ok", true}, {"items", Json::array({1, 2})}});
  REQUIRE(push_json(L, small) == LUA_OK);
  Result<Json> back = to_json(L, -1, "value");
  lua_pop(L, 1);
  REQUIRE(back.ok());
  CHECK(canonical(*back) == canonical(small));
  CHECK(luaL_dostring(L, "return 1 + 1") == LUA_OK);
  lua_close(L);
  CHECK(budget.used == 0);
}

}  // namespace
}  // namespace artana::lua
