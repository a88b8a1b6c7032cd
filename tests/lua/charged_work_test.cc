// C work a script causes but the count hook cannot see (a builtin scanning megabytes, a sort,
// a conversion to JSON) is charged to its instruction budget: a loop of cheap calls ends at
// the limit instead of running for hours in one slice (docs/lua_binding.md, "What C work
// costs").
#include <lua.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "artana/lua/lua_json.h"
#include "artana/lua/lua_state.h"
#include "lua/lua_test_state.h"

using artana::lua::LuaLimits;
using artana::lua::LuaState;

namespace {

std::unique_ptr<LuaState> state_of(uint64_t max_instructions) {
  LuaLimits limits;
  limits.max_instructions = max_instructions;
  limits.max_memory_bytes = 256 << 20;
  return artana::testing::make_state(limits);
}

// The instructions `work` costs beyond `setup`, run in a fresh state with room for both.
uint64_t cost_of(const std::string& setup, const std::string& work) {
  auto base = state_of(4'000'000'000);
  REQUIRE(base->run_chunk(setup, "setup").ok());
  auto state = state_of(4'000'000'000);
  artana::Status s = state->run_chunk(setup + "\n" + work, "work");
  INFO(s.to_string());
  REQUIRE(s.ok());
  return state->instructions() - base->instructions();
}

}  // namespace

TEST_CASE("builtins that scan or move in C are charged by the size of their work", "[lua]") {
  const std::string mib = "local s = string.rep('a', 1 << 20)";
  const std::string list = "local t = {} for i = 1, 10000 do t[i] = i end";
  struct Case {
    const char* what;
    std::string setup;
    const char* work;
    uint64_t at_least;  // instructions
  };
  const Case cases[] = {
      // 10 × (1 MiB scanned + 1 MiB allocated) / 16 bytes per instruction.
      {"upper", mib, "for _ = 1, 10 do local _ = s:upper() end", 10 * 2 * 65536},
      {"reverse", mib, "for _ = 1, 10 do local _ = s:reverse() end", 10 * 2 * 65536},
      {"tonumber", mib, "for _ = 1, 10 do local _ = tonumber(s) end", 10 * 65536},
      {"rep of nothing", "", "local _ = string.rep('', 10000000)", 10000000},
      {"insert at the front", list, "for i = 1, 100 do table.insert(t, 1, i) end", 100 * 10000},
      {"remove at the front", list, "for _ = 1, 100 do table.remove(t, 1) end", 99 * 9900},
      {"sort", list, "for _ = 1, 10 do table.sort(t) end", 10 * 10000 * 14},
      {"move", list, "for _ = 1, 10 do table.move(t, 1, #t, 1, {}) end", 10 * 10000},
      {"pairs", list, "for _ = 1, 10 do for _ in pairs(t) do break end end", 10 * 10000 * 14},
      {"utf8.len", mib, "for _ = 1, 10 do local _ = utf8.len(s) end", 10 * 65536},
      // The source is built in the setup: only parsing it is measured.
      {"load", mib + " local src = 'return 1 --' .. s", "for _ = 1, 10 do load(src) end",
       10 * 65536},
      // Charged by what it steps over, not the count it is given (cost_of requires no kill).
      {"utf8.offset past the end", "local s = 'abc'",
       "for _ = 1, 10 do assert(utf8.offset(s, 1 << 62) == nil) end", 0},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    CHECK(cost_of(c.setup, c.work) >= c.at_least);
  }
}

TEST_CASE("a wrapped builtin still names itself in its errors and works as stock Lua", "[lua]") {
  auto state = state_of(10'000'000);
  artana::Status s = state->run_chunk(
      "local ok, e = pcall(function() return string.upper() end)\n"
      "assert(not ok and tostring(e):find(\"bad argument #1 to 'upper'\", 1, true), tostring(e))\n"
      "local ok2, e2 = pcall(function() return table.insert({}, 1, 2, 3) end)\n"
      "assert(not ok2 and tostring(e2):find('insert', 1, true), tostring(e2))\n"
      "local t = {3, 1, 2} table.sort(t) assert(table.concat(t, ',') == '1,2,3')\n"
      "assert(('abc'):upper() == 'ABC' and string.rep('ab', 3, '-') == 'ab-ab-ab')\n"
      "assert(select('#', string.byte('abc', 1, -1)) == 3 and utf8.len('h\\u{e9}') == 2)\n"
      "assert(tonumber('0x10') == 16 and tonumber('z', 36) == 35)",
      "stock");
  INFO(s.to_string());
  REQUIRE(s.ok());
}

TEST_CASE("work beyond the budget ends the state, and pcall cannot catch it", "[lua]") {
  const char* const bombs[] = {
      "pcall(string.rep, '', 1 << 62)",
      "local s = string.rep('x', 1 << 20) pcall(function() while true do s:upper() end end)",
      "local t = {} for i = 1, 100000 do t[i] = i end\n"
      "pcall(function() while true do table.insert(t, 1, 0) table.remove(t, 1) end end)",
  };
  for (const char* bomb : bombs) {
    INFO(bomb);
    auto state = state_of(2'000'000);
    artana::Status s = state->run_chunk(std::string(bomb) + "\nreturn 'survived'", "bomb");
    CHECK(s.kind() == "limit_exceeded");
    CHECK(state->killed());
  }
}

TEST_CASE("a table reached along many paths is bounded as JSON by the memory left", "[lua]") {
  auto state = state_of(1'000'000'000);
  lua_State* L = state->state();
  REQUIRE(luaL_dostring(L, "local t = {'leaf'} for _ = 1, 22 do t = {t, t} end return t") ==
          LUA_OK);
  artana::Result<artana::kernel::Json> json = artana::lua::to_json(L, -1, "output");
  REQUIRE_FALSE(json.ok());
  CHECK(json.status().kind() == "limit_exceeded");
  CHECK_THAT(json.status().message(),
             Catch::StartsWith("output[") && Catch::Contains("bytes of memory the run has left"));
  CHECK(state->killed());  // its caller ends the run, as for any limit
}

TEST_CASE("converting a value to JSON charges the values it visits", "[lua]") {
  auto state = state_of(1'000'000'000);
  lua_State* L = state->state();
  REQUIRE(luaL_dostring(L, "local t = {} for i = 1, 100000 do t[i] = {i} end return t") == LUA_OK);
  const uint64_t before = state->instructions();
  REQUIRE(artana::lua::to_json(L, -1, "value").ok());
  CHECK(state->instructions() - before >= 200000);
  CHECK_FALSE(state->killed());
}

// A string on its own takes a shorter path to JSON (a prompt, a model name): the same charge
// and the same bound by the memory left.
TEST_CASE("a string converted to JSON is charged by its size and bounded by the memory left",
          "[lua]") {
  auto state = state_of(1'000'000'000);
  lua_State* L = state->state();
  REQUIRE(luaL_dostring(L, "return string.rep('x', 4000000)") == LUA_OK);
  const uint64_t before = state->instructions();
  artana::Result<artana::kernel::Json> json = artana::lua::to_json(L, -1, "prompt");
  REQUIRE(json.ok());
  CHECK(json->as_string().size() == 4000000);
  CHECK(state->instructions() - before >= 4000000 / LuaState::kBytesPerInstruction);
  lua_pop(L, 1);

  LuaLimits limits;
  limits.max_memory_bytes = 8 << 20;
  auto small = LuaState::create(limits);
  REQUIRE(small.ok());
  lua_State* S = (*small)->state();
  const std::string big(5'000'000, 'x');  // fits in the heap once, not twice
  lua_pushlstring(S, big.data(), big.size());
  json = artana::lua::to_json(S, -1, "prompt");
  REQUIRE_FALSE(json.ok());
  CHECK(json.status().kind() == "limit_exceeded");
  CHECK_THAT(json.status().message(), Catch::StartsWith("prompt: as JSON it would take more than"));
  CHECK((*small)->killed());
}
