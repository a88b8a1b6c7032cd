// Kills are never catchable: once the LuaState is killed, every place Lua code could catch
// an error (pcall, xpcall, coroutine.resume/wrap, and C functions that protect internally)
// rethrows it. Adapted from lbaselib.c luaB_pcall/finishpcall and lcorolib.c auxresume.
#include "artana/lua/lua_state.h"
#include "sandbox_internal.h"
#include "sandbox_raise.h"

namespace artana::lua::detail {
namespace {

bool is_killed(lua_State* L) {
  LuaState* state = LuaState::from(L);
  return state != nullptr && state->killed();
}

// Continuation of pcall/xpcall, also called directly when nothing yielded.
int finish_pcall(lua_State* L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    if (is_killed(L)) return lua_error(L);  // rethrow the kill's error; no C++ objects here
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);  // the error value
    return 2;
  }
  return lua_gettop(L) - static_cast<int>(extra);
}

// Returns the number of results moved to L, or -1 with an error value on L's top.
int resume(lua_State* L, lua_State* co, int narg) {
  raise_if_killed(L);
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  int nres = 0;
  const int status = lua_resume(co, L, narg, &nres);
  // A kill inside the coroutine surfaces here as an error (its hook never yields to us).
  raise_if_killed(L);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1);
  return -1;
}

lua_State* check_coroutine(lua_State* L, int index) {
  lua_State* co = lua_tothread(L, index);
  luaL_argexpected(L, co != nullptr, index, "coroutine");
  return co;
}

int wrapped_call(lua_State* L) {
  lua_State* co = lua_tothread(L, lua_upvalueindex(1));
  const int r = resume(L, co, lua_gettop(L));
  if (r >= 0) return r;
  int status = lua_status(co);
  if (status != LUA_OK && status != LUA_YIELD) {  // the coroutine died: close its tbc vars
    status = lua_resetthread(co);
    lua_xmove(co, L, 1);
  }
  if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

int kill_checked_call(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  raise_if_killed(L);
  return lua_gettop(L);
}

}  // namespace

void raise_if_killed(lua_State* L) {
  LuaState* state = LuaState::from(L);
  if (state != nullptr && state->killed()) raise_limit(L, state->kill_reason());
}

int guarded_pcall(lua_State* L) {
  luaL_checkany(L, 1);
  raise_if_killed(L);
  lua_pushboolean(L, 1);  // first result if no errors
  lua_insert(L, 1);
  const int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, finish_pcall);
  return finish_pcall(L, status, 0);
}

int guarded_xpcall(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  raise_if_killed(L);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);  // true and the function go below the function's arguments
  const int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_pcall);
  return finish_pcall(L, status, 2);
}

int guarded_co_resume(lua_State* L) {
  lua_State* co = check_coroutine(L, 1);
  const int r = resume(L, co, lua_gettop(L) - 1);
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;  // false + error value
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}

int guarded_co_wrap(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State* co = lua_newthread(L);  // inherits L's count hook
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, wrapped_call, 1);
  return 1;
}

void push_kill_checked(lua_State* L) { lua_pushcclosure(L, kill_checked_call, 1); }

}  // namespace artana::lua::detail
