// Executions sharing one LuaState (execution.h): each has its own memory and instruction
// limits and its own kill, so one run over a limit, or killed, ends alone and the others go
// on; garbage the collector frees in another's turn is credited to the run that made it.
#include <catch2/catch.hpp>

#include <lua.hpp>

#include <string>

#include "artana/lua/lua_state.h"
#include "artana/lua/script_api.h"
#include "lua_test_state.h"

using artana::Status;
using artana::lua::Execution;
using artana::lua::LuaLimits;
using artana::lua::LuaState;
using artana::testing::make_state;

namespace {

LuaLimits limits_of(size_t memory_bytes, uint64_t instructions) {
  LuaLimits limits;
  limits.max_memory_bytes = memory_bytes;
  limits.max_instructions = instructions;
  return limits;
}

Status run_in(LuaState& state, Execution* execution, const char* chunk) {
  LuaState::Scope turn(state, execution);
  return state.run_chunk(chunk, "chunk");
}

// A chunk that needs some memory and some instructions, and returns 55.
constexpr char kModestWork[] =
    "local t = {} for i = 1, 1000 do t[i] = tostring(i) end\n"
    "local s = 0 for i = 1, 10 do s = s + i end return s";

void check_modest_work_runs(LuaState& state, Execution* execution) {
  LuaState::Scope turn(state, execution);
  artana::kernel::Json result;
  Status status = state.run_chunk(kModestWork, "modest", &result);
  REQUIRE(status.ok());
  CHECK(result == artana::kernel::Json(int64_t{55}));
  CHECK_FALSE(execution->killed());
}

}  // namespace

TEST_CASE("one execution over its memory limit is killed alone, the others go on", "[lua]") {
  auto state = make_state();
  Execution* greedy = state->open_execution(limits_of(1 << 20, 1'000'000'000));
  Execution* modest = state->open_execution(limits_of(1 << 20, 1'000'000'000));
  REQUIRE(greedy != nullptr);
  REQUIRE(modest != nullptr);
  check_modest_work_runs(*state, modest);
  Status status = run_in(*state, greedy,
                         "local t = {} local ok = pcall(function()\n"
                         "  for i = 1, 1e7 do t[i] = {i} end end) return #t");
  CHECK(status.kind() == "limit_exceeded");
  CHECK_THAT(status.message(), Catch::Contains("memory limit"));
  CHECK(greedy->killed());
  CHECK(greedy->memory_used() <= (1u << 20));
  check_modest_work_runs(*state, modest);
  check_modest_work_runs(*state, state->own_execution());
}

TEST_CASE("one execution's instruction limit and kill end that execution only", "[lua]") {
  auto state = make_state();
  Execution* looping = state->open_execution(limits_of(64 << 20, 200'000));
  Execution* killed = state->open_execution(limits_of(64 << 20, 1'000'000'000));
  Execution* modest = state->open_execution(limits_of(64 << 20, 200'000));
  Status status = run_in(*state, looping, "while true do end");
  CHECK(status.kind() == "limit_exceeded");
  CHECK_THAT(status.message(), Catch::Contains("instruction limit"));
  killed->kill();  // as from another thread: lands at its next hook, in its own turn only
  check_modest_work_runs(*state, modest);
  status = run_in(*state, killed, "local ok = pcall(function() while true do end end) return 1");
  CHECK(status.kind() == "limit_exceeded");
  CHECK(std::string(killed->kill_reason()) == "killed");
  // The modest execution was charged only its own instructions, well under its 200 000.
  CHECK(modest->instructions() < 100'000);
  check_modest_work_runs(*state, modest);
  CHECK(looping->instructions() > 200'000);
}

TEST_CASE("garbage freed in another execution's turn is credited to the one that made it",
          "[lua]") {
  auto state = make_state();
  Execution* maker = state->open_execution({});
  Execution* other = state->open_execution({});
  const size_t executions = state->executions();
  lua_State* co = nullptr;
  {
    LuaState::Scope turn(*state, maker);
    co = state->new_thread();
    REQUIRE(co != nullptr);
    lua_createtable(co, 2000, 0);
    for (int i = 1; i <= 2000; ++i) {
      lua_pushfstring(co, "garbage %d", i);
      lua_rawseti(co, -2, i);
    }
    state->release_thread(co);  // all of it garbage now
  }
  CHECK(maker->memory_used() > 2000 * 40);  // charged to its maker until it is freed
  {
    LuaState::Scope turn(*state, other);
    lua_gc(state->state(), LUA_GCCOLLECT);
  }
  CHECK(maker->memory_used() == 0);
  CHECK(other->memory_used() < 4096);  // not debited for what it freed (no wrap-around)
  // Ended with nothing charged to it, the execution is freed at once.
  state->close_execution(maker);
  CHECK(state->executions() == executions - 1);
  check_modest_work_runs(*state, other);
}

TEST_CASE("an ended execution's objects are freed with it once the collector frees them", "[lua]") {
  auto state = make_state();
  Execution* ended = state->open_execution({});
  const size_t executions = state->executions();
  check_modest_work_runs(*state, ended);
  CHECK(ended->memory_used() > 0);
  REQUIRE(state->recycle());  // the state's own turn: unanchors every host thread
  state->close_execution(ended);
  CHECK(state->executions() == executions);  // its thread is not collected yet
  lua_gc(state->state(), LUA_GCCOLLECT);
  CHECK(state->executions() == executions - 1);
}

TEST_CASE("executions sharing a state each have their own module, require and globals table",
          "[lua]") {
  auto state = make_state();
  REQUIRE(artana::lua::install_script_api(*state, nullptr).ok());
  const size_t executions = state->executions();
  Execution* a = state->open_execution({});
  Execution* b = state->open_execution({});
  auto api_a = artana::lua::open_script_execution(*state, a);
  auto api_b = artana::lua::open_script_execution(*state, b);
  REQUIRE(api_a.ok());
  REQUIRE(api_b.ok());
  auto run = [&](Execution* execution, const char* chunk) {
    LuaState::Scope turn(*state, execution);
    artana::kernel::Json result;
    Status status = state->run_chunk(chunk, "chunk", &result);
    INFO(status.message());
    REQUIRE(status.ok());
    return result;
  };
  run(a,
      "local artana = require('artana')\n"
      "artana.tool { name = 'a_tool', fn = function() end }\n"
      "artana.mine = 'a'");
  // a's registrations and changes to its module are a's alone.
  CHECK(run(b, "return require('artana').mine == nil") == artana::kernel::Json(true));
  CHECK(run(a, "return require('artana').mine") == artana::kernel::Json("a"));
  auto tools_a = artana::lua::registered_tools(state->state(), *api_a);
  auto tools_b = artana::lua::registered_tools(state->state(), *api_b);
  REQUIRE(tools_a.ok());
  REQUIRE(tools_b.ok());
  REQUIRE(tools_a->size() == 1);
  CHECK((*tools_a)[0].name == "a_tool");
  CHECK(tools_b->empty());
  // Its environment: _G is itself, load's chunks see it, pairs lists its require with the
  // shared globals, and no global can be assigned.
  CHECK(run(a, "return _G == _ENV and load('return require')() == require") ==
        artana::kernel::Json(true));
  CHECK(run(b,
            "local seen = {} for k in pairs(_G) do seen[k] = true end\n"
            "return seen.require and seen.string and seen._G and true") ==
        artana::kernel::Json(true));
  {
    LuaState::Scope turn(*state, b);
    Status status = state->run_chunk("string = nil", "chunk");
    CHECK(status.kind() == "sandbox_violation");
    status = state->run_chunk("_G.require = nil", "chunk");
    CHECK(status.kind() == "sandbox_violation");
  }
  CHECK(run(a, "return type(string.format) == 'function' and type(require) == 'function'") ==
        artana::kernel::Json(true));
  // Closed, its module and environment let go and collected: a is freed, b goes on.
  artana::lua::close_script_execution(*state, a, *api_a);
  REQUIRE(state->recycle());  // the state's own turn: unanchors every host thread
  state->close_execution(a);
  lua_gc(state->state(), LUA_GCCOLLECT);
  CHECK(state->executions() == executions + 1);
  CHECK(run(b, "return require('artana').mine == nil") == artana::kernel::Json(true));
}
