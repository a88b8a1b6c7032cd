// LuaState::recycle and renew_script_api: a state readied for its run's next execution holds
// none of the last one's threads or module, and a killed state is never readied.
#include <lua.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "artana/lua/lua_state.h"
#include "artana/lua/script_api.h"
#include "lua/lua_test_state.h"

using artana::lua::LuaLimits;
using artana::lua::LuaState;
using artana::lua::ScriptApi;

using artana::testing::make_state;

namespace {

// The entries of the table `ref` refers to.
int count_entries(lua_State* L, int ref) {
  ScriptApi::push(L, ref);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    ++n;
  }
  lua_pop(L, 1);
  return n;
}

}  // namespace

TEST_CASE("a recycled state lets the last execution's threads go and counts from zero", "[lua]") {
  std::unique_ptr<LuaState> state = make_state();
  auto api = artana::lua::install_script_api(*state, nullptr);
  REQUIRE(api.ok());
  lua_State* L = state->state();
  lua_gc(L, LUA_GCCOLLECT);
  const size_t clean = state->memory_used();
  // An execution's host threads, each holding a table (its coroutine's stack).
  for (int i = 0; i < 200; ++i) {
    lua_State* co = state->new_thread();
    REQUIRE(co != nullptr);
    lua_createtable(co, 64, 0);
  }
  REQUIRE(state->charge(1000));
  lua_gc(L, LUA_GCCOLLECT);
  const size_t busy = state->memory_used();
  REQUIRE(busy > clean + 200 * 64 * 16);  // the threads are anchored: nothing collected

  REQUIRE(state->recycle());
  CHECK(state->instructions() == 0);
  lua_gc(L, LUA_GCCOLLECT);
  // Unanchored: all of it collected (the registry keeps the slots it grew for them).
  CHECK(state->memory_used() < clean + 16 * 1024);

  // A new module: the old registries' references are released, the new ones are empty.
  ScriptApi::push(L, api->tools);
  lua_pushliteral(L, "left over");
  lua_setfield(L, -2, "t");
  lua_pop(L, 1);
  REQUIRE(count_entries(L, api->tools) == 1);
  auto renewed = artana::lua::renew_script_api(*state, *api);
  REQUIRE(renewed.ok());
  CHECK(count_entries(L, renewed->tools) == 0);
  CHECK(count_entries(L, renewed->ports) == 0);
}

TEST_CASE("a killed state is never recycled", "[lua]") {
  std::unique_ptr<LuaState> state = make_state();
  state->mark_killed("test");
  CHECK_FALSE(state->recycle());
  std::unique_ptr<LuaState> asked = make_state();
  asked->kill();  // asked to stop: the kill lands at its next hook, never in a new execution
  CHECK_FALSE(asked->recycle());
}
