// Kills are never catchable: once the LuaState is killed, every place Lua code could catch
// an error (pcall, xpcall, coroutine.resume/wrap, and C functions that protect internally)
// rethrows it. Adapted from lbaselib.c luaB_pcall/finishpcall and lcorolib.c auxresume.
#include "artana/lua/lua_state.h"

#include <lua.hpp>

#include "sandbox_internal.h"
#include "sandbox_raise.h"
#include "thread_tags.h"

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

// The coroutine yielded to pass something up to the host: a syscall (its first yielded value
// is the syscall sentinel) or a time slice (the hook yielded nothing and set the slice flag).
bool passes_up(lua_State* co, int status, int nres) {
  if (status != LUA_YIELD) return false;
  if (nres > 0) return lua_touserdata(co, -nres) == &kSyscallSentinel;
  LuaState* state = LuaState::from(co);
  return state != nullptr && state->yielded_for_slice();
}

constexpr int kErrorOnTop = -1;

// Resumes co with the narg values on top of L. Returns the number of results moved to L, or
// kErrorOnTop with an error value on L's top. When co passes a syscall or a time slice up,
// L yields the same values to its own resumer (co was only tagged as reaching the host
// because L does) and continues in `k` with the values the host resumes it with.
// No C++ objects live here: lua_yieldk and raise_if_killed leave by longjmp.
int resume(lua_State* L, lua_State* co, int narg, lua_KFunction k) {
  raise_if_killed(L);
  LuaState* owner = LuaState::from(L);
  if (is_host_thread(co, owner)) {
    lua_pop(L, narg);
    lua_pushliteral(L, "cannot resume a coroutine the host runs (a run's entry or a branch)");
    return kErrorOnTop;
  }
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return kErrorOnTop;
  }
  lua_xmove(L, co, narg);
  set_thread_tag(co, reaches_host(L, owner) ? &kReachesHost : nullptr);
  int nres = 0;
  const int status = lua_resume(co, L, narg, &nres);
  // A kill inside the coroutine surfaces here as an error (its hook never yields to us).
  raise_if_killed(L);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return kErrorOnTop;
    }
    const bool up = passes_up(co, status, nres);  // reads co's stack: before the move
    lua_xmove(co, L, nres);
    if (up) return lua_yieldk(L, nres, 0, k);
    return nres;
  }
  lua_xmove(co, L, 1);
  return kErrorOnTop;
}

lua_State* check_coroutine(lua_State* L, int index) {
  lua_State* co = lua_tothread(L, index);
  luaL_argexpected(L, co != nullptr, index, "coroutine");
  return co;
}

int finish_wrapped(lua_State* L, lua_State* co, int r) {
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

// Continuation after passing a yield up: the host's values go down to the coroutine.
int wrapped_call_k(lua_State* L, int /*status*/, lua_KContext /*ctx*/) {
  lua_State* co = lua_tothread(L, lua_upvalueindex(1));
  return finish_wrapped(L, co, resume(L, co, lua_gettop(L), wrapped_call_k));
}

int wrapped_call(lua_State* L) { return wrapped_call_k(L, LUA_OK, 0); }

int finish_co_resume(lua_State* L, int r) {
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;  // false + error value
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}

// Stack: the coroutine at 1, then the values to resume it with.
int co_resume_k(lua_State* L, int /*status*/, lua_KContext /*ctx*/) {
  lua_State* co = lua_tothread(L, 1);
  return finish_co_resume(L, resume(L, co, lua_gettop(L) - 1, co_resume_k));
}

// xpcall's message handler, around the script's (upvalue 1). A kill is raised from the
// count hook, and Lua calls the message handler at the point of the error, before it unwinds
// to the pcall that restores hooks: the script's handler would run with no hook to stop it.
// So a kill's error passes through untouched, and the script's handler sees only errors that
// leave hooks on (and is stopped by the next one if it runs too long).
int guarded_message_handler(lua_State* L) {
  if (is_killed(L)) return 1;  // the kill's error, unchanged
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
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
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, guarded_message_handler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);  // true and the function go below the function's arguments
  const int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_pcall);
  return finish_pcall(L, status, 2);
}

int guarded_co_resume(lua_State* L) {
  check_coroutine(L, 1);
  return co_resume_k(L, LUA_OK, 0);
}

int guarded_co_wrap(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State* co = lua_newthread(L);  // inherits L's count hook
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, wrapped_call, 1);
  return 1;
}

// Upvalue 1: the real coroutine.close. Host threads are the host's to end.
static int guarded_co_close(lua_State* L) {
  lua_State* co = check_coroutine(L, 1);
  if (is_host_thread(co, LuaState::from(L)))
    return luaL_error(L, "cannot close a coroutine the host runs (a run's entry or a branch)");
  return kill_checked_call(L);
}

void push_kill_checked(lua_State* L) { lua_pushcclosure(L, kill_checked_call, 1); }

void push_guarded_co_close(lua_State* L) { lua_pushcclosure(L, guarded_co_close, 1); }

}  // namespace artana::lua::detail
