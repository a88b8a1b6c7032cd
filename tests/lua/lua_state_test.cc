// Limits and kills of a LuaState: instruction and memory limits that pcall cannot swallow,
// time slices, and the pattern-function guard.
#include "artana/lua/lua_state.h"
#include "lua/lua_test_state.h"

#include <lua.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include "artana/lua/lua_error.h"
#include "artana/lua/syscall_bridge.h"

using artana::lua::LuaLimits;
using artana::lua::LuaState;

using artana::testing::make_state;

namespace {

LuaLimits small_limits() {
  LuaLimits limits;
  limits.max_instructions = 2'000'000;
  limits.max_memory_bytes = 32 << 20;
  limits.slice_instructions = 1000;
  return limits;
}

}  // namespace

TEST_CASE("an infinite loop ends with limit_exceeded even inside pcall", "[sandbox][lua]") {
  auto state = make_state(small_limits());
  artana::Status s = state->run_chunk(
      "local ok = pcall(function() while true do end end) while true do end", "loop");
  REQUIRE(s.kind() == "limit_exceeded");
  REQUIRE_THAT(s.message(), Catch::Contains("instruction limit"));
}

TEST_CASE("a kill where yielding is impossible is not caught by pcall", "[sandbox][lua]") {
  auto state = make_state(small_limits());
  artana::Status s = state->run_chunk(
      "local ok, e = pcall(table.sort, {3, 2, 1}, function(a, b) while true do end end)\n"
      "print('survived') return ok",
      "sort");
  REQUIRE(s.kind() == "limit_exceeded");
  REQUIRE_THAT(s.message(), Catch::Contains("instruction limit"));
}

TEST_CASE("an xpcall message handler that never returns is stopped by the instruction limit",
          "[sandbox][lua]") {
  // Lua calls a message handler where the error was raised. Raised from the count hook (a
  // kill), hooks stay off until the pcall unwinds: a looping handler once spun forever.
  const char* const chunks[] = {
      "xpcall(function() error('x') end, function(e) while true do end end) return 1",
      "xpcall(function() while true do end end, function(e) while true do end end) return 1",
      "local co = coroutine.wrap(function()\n"
      "  return xpcall(function() error('x') end, function(e) while true do end end)\n"
      "end)\n"
      "co() return 1",
      "pcall(function()\n"
      "  local guard <close> = setmetatable({}, { __close = function() while true do end end })\n"
      "  error('x')\n"
      "end) return 1",
  };
  for (const char* chunk : chunks) {
    INFO(chunk);
    auto state = make_state(small_limits());
    artana::Status s = state->run_chunk(chunk, "handler");
    REQUIRE(s.kind() == "limit_exceeded");
    REQUIRE_THAT(s.message(), Catch::Contains("instruction limit"));
  }
}

TEST_CASE("an xpcall message handler still handles the script's own errors", "[sandbox][lua]") {
  auto state = make_state(small_limits());
  REQUIRE(state
              ->run_chunk("local ok, e = xpcall(function() error('x', 0) end,\n"
                          "  function(m) local n = 0 for i = 1, 5000 do n = n + 1 end\n"
                          "  return m .. n end)\n"
                          "assert(not ok and e == 'x5000')",
                          "handled")
              .ok());
}

TEST_CASE("a kill inside a script coroutine is not caught by coroutine.resume", "[sandbox][lua]") {
  auto state = make_state(small_limits());
  artana::Status s = state->run_chunk(
      "local co = coroutine.create(function() while true do end end)\n"
      "local ok = coroutine.resume(co)\n"
      "local f = coroutine.wrap(function() return 1 end) f()\n"
      "return ok",
      "co");
  REQUIRE(s.kind() == "limit_exceeded");
}

TEST_CASE("a memory bomb inside pcall ends with limit_exceeded and the host stays healthy",
          "[sandbox][lua]") {
  LuaLimits limits = small_limits();
  limits.max_instructions = 100'000'000;  // the bytes allocated are charged too
  auto state = make_state(limits);
  artana::Status s = state->run_chunk(
      "pcall(function() local t = {} while true do t[#t+1] = string.rep('x', 1e6) end end)\n"
      "return 1",
      "bomb");
  REQUIRE(s.kind() == "limit_exceeded");
  REQUIRE_THAT(s.message(), Catch::Contains("memory limit"));
  REQUIRE(state->memory_used() <= (32u << 20));
  state.reset();
  auto fresh = make_state(small_limits());
  REQUIRE(fresh->run_chunk("local x = 1 + 1 assert(x == 2)", "after").ok());
}

TEST_CASE("kill() stops a running script at the next hook", "[sandbox][lua]") {
  auto state = make_state(small_limits());
  state->kill();
  artana::Status s = state->run_chunk("local i = 0 while true do i = i + 1 end", "killed");
  REQUIRE(s.kind() == "limit_exceeded");
  REQUIRE_THAT(s.message(), Catch::Contains("killed"));
}

TEST_CASE("a long loop yields to the host every slice and then completes", "[sandbox][lua]") {
  LuaLimits limits;
  limits.slice_instructions = 1000;
  auto state = make_state(limits);
  artana::Status s = state->run_chunk(
      "local n = 0 for i = 1, 100000 do n = n + i end assert(n == 5000050000)", "slices");
  REQUIRE(s.ok());
  REQUIRE(state->slice_yields() > 100);
  REQUIRE_FALSE(state->killed());
}

TEST_CASE("a pathological pattern on a 1 KiB subject ends with limit_exceeded", "[sandbox][lua]") {
  LuaLimits limits;
  limits.max_instructions = 10'000'000;
  auto state = make_state(limits);
  artana::Status s =
      state->run_chunk("return string.rep('a', 1024):find(string.rep('a-', 15) .. 'b')", "pattern");
  REQUIRE(s.kind() == "limit_exceeded");
  REQUIRE_THAT(s.message(), Catch::Contains("instruction limit"));
}

TEST_CASE("a pattern nesting deeper than Lua's matcher allows is a catchable script error",
          "[sandbox][lua]") {
  auto state = make_state();
  REQUIRE(state
              ->run_chunk("local ok, e = pcall(string.find, string.rep('a', 1024),\n"
                          "                    string.rep('a?', 512) .. string.rep('a', 512))\n"
                          "assert(not ok and e:find('pattern too complex', 1, true))",
                          "deep_pattern")
              .ok());
}

TEST_CASE("repeated pattern calls are charged to the instruction budget", "[sandbox][lua]") {
  LuaLimits limits;
  limits.max_instructions = 50'000'000;
  auto state = make_state(limits);
  artana::Status s = state->run_chunk(
      "local s = string.rep('a', 100000)\n"
      "for i = 1, 1e9 do pcall(string.find, s, 'b') end",
      "charged");
  REQUIRE(s.kind() == "limit_exceeded");
  REQUIRE_THAT(s.message(), Catch::Contains("instruction limit"));
}

TEST_CASE("ordinary patterns work and long subjects are refused", "[sandbox][lua]") {
  auto state = make_state();
  REQUIRE(
      state
          ->run_chunk("assert(('key = value'):match('^(%w+)%s*=%s*(%w+)$') == 'key')\n"
                      "assert(select(2, ('a,b,c'):gsub(',', ';')) == 2)\n"
                      "local n = 0 for w in ('one two three'):gmatch('%a+') do n = n + 1 end\n"
                      "assert(n == 3)\n"
                      "assert(('a+b'):find('+', 1, true) == 2)\n"
                      "assert(('x-y'):find('[%w-]+') == 1)\n"
                      "local ok, e = pcall(string.find, string.rep('a', 2 * 1024 * 1024), 'a')\n"
                      "assert(not ok and e.kind == 'limit_exceeded')",
                      "patterns")
          .ok());
}

TEST_CASE("a syntax error is a script_error naming the chunk", "[sandbox][lua]") {
  auto state = make_state();
  artana::Status s = state->run_chunk("local = 1", "broken");
  REQUIRE(s.kind() == "script_error");
  REQUIRE_THAT(s.message(), Catch::Contains("broken"));
  artana::Status e = state->run_chunk("error('boom')", "raises");
  REQUIRE(e.kind() == "script_error");
  REQUIRE_THAT(e.message(), Catch::Contains("boom"));
}

namespace {

struct ThrowingHandler final : artana::lua::SyscallHandler {
  artana::lua::SyscallReply& handle(lua_State*, artana::lua::SyscallOp) override {
    throw std::runtime_error("boom in the handler");
  }
};

}  // namespace

TEST_CASE("a syscall handler that throws raises kind internal in Lua, the state goes on",
          "[lua][boundary]") {
  auto state = make_state(small_limits());
  lua_State* L = state->state();
  ThrowingHandler handler;
  state->set_handler(&handler);
  artana::lua::push_syscall(L, artana::lua::SyscallOp::kLoadModule);
  REQUIRE(lua_pcall(L, 0, 0, 0) == LUA_ERRRUN);
  const artana::lua::BoundaryError error = artana::lua::read_error(L, -1);
  lua_pop(L, 1);
  CHECK(std::string(error.kind) == "internal");
  CHECK_THAT(std::string(error.message), Catch::Contains("boom in the handler"));
  REQUIRE(state->run_chunk("local x = 1 + 1 assert(x == 2)", "after").ok());
}

TEST_CASE("an error outside any protected call kills that state only, not the process",
          "[lua][boundary]") {
  auto state = make_state(small_limits());
  lua_State* L = state->state();
  lua_pushliteral(L, "raised where nothing protects it");
  CHECK_THROWS_AS(lua_error(L), artana::lua::LuaPanic);
  CHECK(state->killed());
  auto other = make_state(small_limits());
  REQUIRE(other->run_chunk("local x = 1 + 1 assert(x == 2)", "after").ok());
}
