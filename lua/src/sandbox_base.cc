// The base functions the sandbox replaces: print (to the host's log sink), tostring (no
// addresses), load (text only, sandbox env by default), collectgarbage (refused, naming run:memory)
// and setmetatable/getmetatable/rawset (no __gc or __mode: GC timing differs between a live run and
// its replay).
#include <cstring>

#include <lua.hpp>

#include <exception>
#include <functional>
#include <new>
#include <string_view>

#include "artana/lua/lua_state.h"
#include "artana/lua/sandbox.h"
#include "sandbox_internal.h"
#include "sandbox_raise.h"

namespace artana::lua::detail {
namespace {

constexpr const char kGuardKey[] = "artana.metatable_guard";

struct PrintSink {
  std::function<void(std::string_view)> fn;
};

int print_sink_gc(lua_State* L) {
  static_cast<PrintSink*>(lua_touserdata(L, 1))->~PrintSink();
  return 0;
}

// Upvalue 1: the PrintSink userdata.
int sandbox_print(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_Buffer b;  // a C struct: nothing to destroy if a conversion raises
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; ++i) {
    if (i > 1) luaL_addchar(&b, '\t');
    push_safe_tostring(L, i);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  size_t len = 0;
  const char* line = lua_tolstring(L, -1, &len);
  auto* sink = static_cast<PrintSink*>(lua_touserdata(L, lua_upvalueindex(1)));
  bool failed = false;
  {
    try {  // the sink is host code: an exception must not unwind through Lua's C frames
      if (sink->fn) sink->fn(std::string_view(line, len));
    } catch (...) {
      failed = true;
    }
  }  // nothing with a destructor is alive past here
  if (failed) return luaL_error(L, "print: the host's log sink failed");
  return 0;
}

int sandbox_tostring(lua_State* L) {
  luaL_checkany(L, 1);
  push_safe_tostring(L, 1);
  return 1;
}

// Upvalue 1: the original load.
int sandbox_load(lua_State* L) {
  const int top = lua_gettop(L);
  lua_settop(L, 4);  // chunk, chunkname, mode, env: pushes below must not shadow them
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  if (s != nullptr && len >= 4 && std::memcmp(s, LUA_SIGNATURE, 4) == 0)
    return raise_violation(L, "load: binary chunks are refused; pass Lua source text");
  const char* mode = luaL_optstring(L, 3, "t");
  if (std::strchr(mode, 't') == nullptr)
    return raise_violation(L, "load: mode '%s' is refused; only text chunks load", mode);
  charge_work(L, len / LuaState::kBytesPerInstruction);  // parsing is C work the hook misses
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_pushliteral(L, "t");
  if (top >= 4)
    lua_pushvalue(L, 4);  // an env the script passed (it can only hold what it can reach)
  else
    push_sandbox_env(L);  // the running execution's; never the real globals
  lua_call(L, 4, 2);
  raise_if_killed(L);  // a reader function killed inside load's protected parser
  if (lua_isnil(L, -2)) {
    const char* msg = lua_tostring(L, -1);
    if (msg != nullptr && std::strstr(msg, "binary chunk") != nullptr)
      return raise_violation(L, "load: binary chunks are refused; pass Lua source text");
    return 2;
  }
  lua_pop(L, 1);
  return 1;
}

// Every option is refused: the host owns the collector, and the heap's size differs between
// a live execution and its replay, so a script reading it could not replay. run:memory()
// reads it as a recorded step instead.
int sandbox_collectgarbage(lua_State* L) {
  const char* opt = luaL_optstring(L, 1, "collect");
  if (std::strcmp(opt, "count") == 0) {
    return raise_violation(L,
                           "collectgarbage(\"count\") is refused: the heap differs between a "
                           "live execution and its replay; run:memory() returns it recorded");
  }
  return raise_violation(L, "collectgarbage(\"%s\") is refused: the host owns the collector", opt);
}

bool is_gc_key(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TSTRING) return false;
  const char* k = lua_tostring(L, index);
  return std::strcmp(k, "__gc") == 0 || std::strcmp(k, "__mode") == 0;
}

int refuse_gc_key(lua_State* L) {
  return raise_violation(L,
                         "__gc and __mode are refused: garbage-collection timing differs "
                         "between a live run and its replay");
}

// __newindex of the hidden guard set on tables in use as metatables.
int guard_newindex(lua_State* L) {
  if (is_gc_key(L, 2)) return refuse_gc_key(L);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 0;
}

// Pushes the guard metatable (one per state).
void push_guard(lua_State* L) {
  if (luaL_newmetatable(L, kGuardKey)) {
    lua_pushcfunction(L, guard_newindex);
    lua_setfield(L, -2, "__newindex");
  }
}

bool has_protected_metatable(lua_State* L, int index) {
  if (luaL_getmetafield(L, index, "__metatable") == LUA_TNIL) return false;
  lua_pop(L, 1);
  return true;
}

int sandbox_setmetatable(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const int t = lua_type(L, 2);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (has_protected_metatable(L, 1))
    return raise_violation(L, "setmetatable: cannot change a protected metatable");
  lua_settop(L, 2);
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    const bool gc = lua_rawget(L, 2) != LUA_TNIL;
    lua_pushliteral(L, "__mode");
    const bool mode = lua_rawget(L, 2) != LUA_TNIL;
    lua_settop(L, 2);
    if (gc || mode) return refuse_gc_key(L);
    if (!lua_getmetatable(L, 2)) {  // guard later `mt.__gc = f` / `mt.__mode = "k"`
      push_guard(L);
      lua_setmetatable(L, 2);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_setmetatable(L, 1);
  return 1;
}

int sandbox_getmetatable(lua_State* L) {
  luaL_checkany(L, 1);
  if (!lua_getmetatable(L, 1)) {
    lua_pushnil(L);
    return 1;
  }
  push_guard(L);
  if (lua_rawequal(L, -1, -2)) {  // the guard is the host's, not the script's
    lua_pushnil(L);
    return 1;
  }
  lua_pop(L, 1);
  luaL_getmetafield(L, 1, "__metatable");  // pushes nothing when absent
  return 1;
}

int sandbox_rawset(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (has_protected_metatable(L, 1))
    return raise_violation(L, "rawset on a protected table (globals, libraries) is refused");
  if (is_gc_key(L, 2)) return refuse_gc_key(L);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

}  // namespace

void push_safe_tostring(lua_State* L, int index) {
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TTABLE:
    case LUA_TFUNCTION:
    case LUA_TTHREAD:
    case LUA_TUSERDATA:
    case LUA_TLIGHTUSERDATA:
      if (luaL_getmetafield(L, index, "__tostring") == LUA_TNIL) {
        lua_pushstring(L, luaL_typename(L, index));  // "table", never "table: 0x55..."
        return;
      }
      lua_pop(L, 1);
      break;
    default:
      break;
  }
  luaL_tolstring(L, index, nullptr);  // honours __tostring; numbers, strings, booleans, nil
}

void set_base_functions(lua_State* L, int allowed, int real_load) {
  allowed = lua_absindex(L, allowed);
  real_load = lua_absindex(L, real_load);
  lua_pushcfunction(L, sandbox_tostring);
  lua_setfield(L, allowed, "tostring");
  lua_pushvalue(L, real_load);
  lua_pushcclosure(L, sandbox_load, 1);
  push_kill_checked(L);
  lua_setfield(L, allowed, "load");
  lua_pushcfunction(L, sandbox_collectgarbage);
  lua_setfield(L, allowed, "collectgarbage");
  lua_pushcfunction(L, sandbox_setmetatable);
  lua_setfield(L, allowed, "setmetatable");
  lua_pushcfunction(L, sandbox_getmetatable);
  lua_setfield(L, allowed, "getmetatable");
  lua_pushcfunction(L, sandbox_rawset);
  lua_setfield(L, allowed, "rawset");
}

// The sink is a C++ object, owned by a userdata whose __gc destroys it (STYLE.md §6).
void push_print(lua_State* L, const SandboxOptions& options) {
  lua_createtable(L, 0, 1);  // the metatable first: once the sink exists nothing may fail
  lua_pushcfunction(L, print_sink_gc);
  lua_setfield(L, -2, "__gc");
  void* memory = lua_newuserdatauv(L, sizeof(PrintSink), 0);
  try {
    new (memory) PrintSink{options.print_sink};
  } catch (...) {  // std::function's copy may throw bad_alloc: discard lines, never unwind
    new (memory) PrintSink{};
  }
  lua_insert(L, -2);
  lua_setmetatable(L, -2);  // [-1,+0,-]: does not allocate
  lua_pushcclosure(L, sandbox_print, 1);
}

}  // namespace artana::lua::detail
