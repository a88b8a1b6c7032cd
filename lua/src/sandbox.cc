// Builds the sandbox environment: an allow list (docs/lua_binding.md), a reason for every
// removed name, read-only proxies for library tables and the string metatable.
#include "artana/lua/sandbox.h"

#include <lua.hpp>

#include <cstring>

#include "artana/lua/lua_state.h"
#include "sandbox_internal.h"
#include "sandbox_raise.h"

namespace artana::lua {
namespace {

const char kEnvKey = 0;      // its address keys the environment in the registry
const char kAllowedKey = 0;  // and this one the allow list behind it

struct Hint {
  const char* name;
  const char* hint;
};

// Removed names and what to use instead. A library name ("os") covers its other fields.
constexpr Hint kHints[] = {
    {"os.time", "use run:now()"},
    {"os.clock", "use run:now()"},
    {"os.date", "use run:now()"},
    {"os.difftime", "subtract run:now() values"},
    {"os.getenv", "pass configuration in the run's input"},
    {"os.execute", "call a tool"},
    {"os.remove", "call a tool"},
    {"os.rename", "call a tool"},
    {"os.exit", "return from the entry function or call error()"},
    {"os.tmpname", "use run:artifact"},
    {"os", "the os library is not available; time is run:now(), processes are tools"},
    {"io.open", "use run:artifact or a tool"},
    {"io.lines", "use run:artifact or a tool"},
    {"io.popen", "call a tool"},
    {"io.write", "use print (it goes to the run's log)"},
    {"io.read", "take input from the run's input"},
    {"io", "the io library is not available; use run:artifact or a tool"},
    {"debug", "the debug library is not available; error messages carry positions"},
    {"package", "the package library is not available; use require"},
    {"math.random", "use run:random()"},
    {"math.randomseed", "use run:random() (replay must see the same numbers)"},
    {"string.dump", "binary chunks are refused; pass source text to load"},
    {"dofile", "use require"},
    {"loadfile", "use require"},
    {"loadstring", "use load (text only)"},
    {"setfenv", "pass an environment table to load"},
    {"getfenv", "the environment is _ENV"},
    {"unpack", "use table.unpack"},
};

const char* find_hint(const char* name) {
  for (const Hint& h : kHints)
    if (std::strcmp(h.name, name) == 0) return h.hint;
  return nullptr;
}

const char* key_name(lua_State* L, int index) {
  return lua_type(L, index) == LUA_TSTRING ? lua_tostring(L, index) : luaL_typename(L, index);
}

// Upvalues: 1 inner table, 2 library name, 3 refuse_all (every missing field is refused).
int library_index(lua_State* L) {
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  const char* lib = lua_tostring(L, lua_upvalueindex(2));
  const bool refuse_all = lua_toboolean(L, lua_upvalueindex(3));
  if (lua_type(L, 2) != LUA_TSTRING && !refuse_all) return 1;  // nil
  const char* full = lua_pushfstring(L, "%s.%s", lib, key_name(L, 2));
  const char* hint = find_hint(full);
  if (hint == nullptr && refuse_all) hint = find_hint(lib);
  if (hint == nullptr) {
    lua_pushnil(L);
    return 1;
  }
  // Only Lua-owned strings are alive here.
  return detail::raise_violation(L, "%s is not available in the sandbox; %s", full, hint);
}

// Upvalue 1: library name.
int library_newindex(lua_State* L) {
  return detail::raise_violation(L, "cannot assign %s.%s: library tables are read-only",
                                 lua_tostring(L, lua_upvalueindex(1)), key_name(L, 2));
}

// Upvalue 1: inner table.
int library_pairs(lua_State* L) { return detail::push_sorted_iteration(L, lua_upvalueindex(1)); }

// Pushes an empty proxy reading from the table at `inner`, refusing writes.
void push_library(lua_State* L, int inner, const char* name, bool refuse_all) {
  inner = lua_absindex(L, inner);
  lua_newtable(L);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, inner);
  lua_pushstring(L, name);
  lua_pushboolean(L, refuse_all);
  lua_pushcclosure(L, library_index, 3);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, library_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, inner);
  lua_pushcclosure(L, library_pairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);  // getmetatable(proxy) == false; setmetatable refuses
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

// Called as __index of the allow list: the name is neither allowed nor assigned.
int global_index(lua_State* L) {
  const char* name = key_name(L, 2);
  const char* hint = find_hint(name);
  if (hint != nullptr)
    return detail::raise_violation(L, "%s is not available in the sandbox; %s", name, hint);
  return detail::raise_violation(L, "unknown global '%s' (the sandbox has no such name)", name);
}

int global_newindex(lua_State* L) {
  return detail::raise_violation(
      L, "cannot assign global '%s': scripts cannot assign globals; use local", key_name(L, 2));
}

// pairs(_G): the globals at upvalue 1 in order; for an execution's environment, its own
// (require, _G) with the allow list at upvalue 2 behind them: a merged copy per call (rare).
int globals_pairs(lua_State* L) {
  if (lua_isnoneornil(L, lua_upvalueindex(2)))
    return detail::push_sorted_iteration(L, lua_upvalueindex(1));
  lua_newtable(L);
  const int merged = lua_gettop(L);
  for (int source : {lua_upvalueindex(2), lua_upvalueindex(1)}) {
    lua_pushnil(L);
    while (lua_next(L, source) != 0) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, merged);
    }
  }
  return detail::push_sorted_iteration(L, merged);
}

// Pushes the metatable of an environment whose globals are the table at `globals` (with the
// table at `behind` behind them, 0 for none): reads go there (a miss names the global),
// writes are refused, pairs lists them, getmetatable hides it.
void push_environment_metatable(lua_State* L, int globals, int behind) {
  globals = lua_absindex(L, globals);
  if (behind != 0) behind = lua_absindex(L, behind);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, globals);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, global_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushvalue(L, globals);
  if (behind != 0) {
    lua_pushvalue(L, behind);
  } else {
    lua_pushnil(L);
  }
  lua_pushcclosure(L, globals_pairs, 2);
  lua_setfield(L, -2, "__pairs");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
}

// Pushes a copy of the table at `src` without the names in `skip` (nullptr-terminated).
void push_copy(lua_State* L, int src, const char* const* skip) {
  src = lua_absindex(L, src);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, src) != 0) {
    bool skipped = false;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (const char* const* s = skip; *s != nullptr; ++s)
        skipped = skipped || std::strcmp(*s, lua_tostring(L, -2)) == 0;
    if (skipped) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
}

// Copies library `name` from the real globals (at `real`) into the allow list as a proxy.
// Leaves the inner copy on the stack for further edits before calling finish_library.
void copy_library(lua_State* L, int real, const char* name, const char* const* skip) {
  lua_getfield(L, real, name);
  push_copy(L, -1, skip);
  lua_remove(L, -2);
}

// An error in a C function names it by finding it in the loaded-modules table
// (luaL_argerror: "bad argument #1 to 'string.upper'"). The scripts' copies of the
// libraries, with their charged wrappers, replace the originals there, or the wrappers are
// named '?'. No script can reach that table (no package, no debug, no registry).
void register_loaded(lua_State* L, int table, const char* name) {
  table = lua_absindex(L, table);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, table);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

void finish_library(lua_State* L, int allowed, const char* name) {
  register_loaded(L, -1, name);
  push_library(L, -1, name, false);
  lua_setfield(L, allowed, name);
  lua_pop(L, 1);  // the inner copy
}

}  // namespace

void push_sandbox_env(lua_State* L) {
  const LuaState* state = LuaState::from(L);
  const int ref = state != nullptr ? state->current()->environment() : kNoRef;
  if (ref != kNoRef) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  } else {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kEnvKey);
  }
}

void push_execution_env(lua_State* L) {
  const int require = lua_gettop(L);
  lua_createtable(L, 0, 2);  // what the execution has of its own, in front of the allow list
  const int own = lua_gettop(L);
  lua_pushvalue(L, require);
  lua_setfield(L, own, "require");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kAllowedKey);
  const int allowed = lua_gettop(L);
  lua_newtable(L);  // the environment: empty, so every read and write meets its metatable
  const int env = lua_gettop(L);
  lua_pushvalue(L, env);
  lua_setfield(L, own, "_G");
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, allowed);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, own);
  push_environment_metatable(L, own, allowed);
  lua_setmetatable(L, env);
  lua_replace(L, require);
  lua_settop(L, require);
}

void install_sandbox(lua_State* L, const SandboxOptions& options) {
  static const luaL_Reg kLibs[] = {
      {LUA_GNAME, luaopen_base},       {LUA_COLIBNAME, luaopen_coroutine},
      {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string},
      {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8}};
  const int base = lua_gettop(L);
  for (const luaL_Reg& lib : kLibs) {  // io, os, debug and package are never opened
    luaL_requiref(L, lib.name, lib.func, 1);
    lua_pop(L, 1);
  }
  lua_pushglobaltable(L);
  const int real = lua_gettop(L);
  lua_newtable(L);
  const int allowed = lua_gettop(L);
  lua_newtable(L);
  const int env = lua_gettop(L);

  for (const char* name : {"assert", "error", "ipairs", "rawequal", "rawget", "rawlen", "select",
                           "tonumber", "type", "_VERSION"}) {
    lua_getfield(L, real, name);
    lua_setfield(L, allowed, name);
  }
  detail::charge_base_function(L, allowed, "tonumber");
  lua_pushcfunction(L, detail::guarded_pcall);
  lua_setfield(L, allowed, "pcall");
  lua_pushcfunction(L, detail::guarded_xpcall);
  lua_setfield(L, allowed, "xpcall");
  lua_pushcfunction(L, detail::deterministic_pairs);
  lua_setfield(L, allowed, "pairs");
  detail::push_deterministic_next(L);
  lua_setfield(L, allowed, "next");
  detail::push_print(L, options);
  lua_setfield(L, allowed, "print");
  lua_getfield(L, real, "load");
  detail::set_base_functions(L, allowed, -1);
  lua_pop(L, 1);

  static const char* const kNone[] = {nullptr};
  static const char* const kNoDump[] = {"dump", nullptr};
  static const char* const kNoRandom[] = {"random", "randomseed", nullptr};
  copy_library(L, real, LUA_STRLIBNAME, kNoDump);
  detail::guard_string_table(L, -1);
  detail::charge_string_table(L, -1);
  register_loaded(L, -1, LUA_STRLIBNAME);
  push_library(L, -1, LUA_STRLIBNAME, false);
  lua_pushvalue(L, -1);
  lua_setfield(L, allowed, LUA_STRLIBNAME);
  // Strings share one metatable: its __index becomes the read-only proxy, and
  // getmetatable("") returns a read-only view, so `getmetatable("").__index.x = f` fails.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "__index");
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, -4);
  lua_setfield(L, -2, "__index");
  push_library(L, -1, "string metatable", false);
  lua_setfield(L, -3, "__metatable");
  lua_settop(L, env);

  copy_library(L, real, LUA_TABLIBNAME, kNone);
  detail::charge_table_table(L, -1);
  lua_getfield(L, -1, "unpack");
  lua_setfield(L, allowed, "unpack");
  finish_library(L, allowed, LUA_TABLIBNAME);
  copy_library(L, real, LUA_MATHLIBNAME, kNoRandom);
  finish_library(L, allowed, LUA_MATHLIBNAME);
  copy_library(L, real, LUA_UTF8LIBNAME, kNone);
  detail::charge_utf8_table(L, -1);
  finish_library(L, allowed, LUA_UTF8LIBNAME);
  copy_library(L, real, LUA_COLIBNAME, kNone);
  lua_pushcfunction(L, detail::guarded_co_resume);
  lua_setfield(L, -2, "resume");
  lua_pushcfunction(L, detail::guarded_co_wrap);
  lua_setfield(L, -2, "wrap");
  lua_getfield(L, -1, "close");  // runs __close handlers under its own protection
  detail::push_guarded_co_close(L);
  lua_setfield(L, -2, "close");
  finish_library(L, allowed, LUA_COLIBNAME);

  for (const char* removed : {"os", "io", "debug", "package"}) {
    lua_newtable(L);
    push_library(L, -1, removed, true);
    lua_setfield(L, allowed, removed);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, env);
  lua_setfield(L, allowed, "_G");
  register_loaded(L, allowed, LUA_GNAME);  // the base functions as scripts see them

  lua_createtable(L, 0, 1);  // the allow list's metatable: misses name the global
  lua_pushcfunction(L, global_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, allowed);
  push_environment_metatable(L, allowed, 0);
  lua_setmetatable(L, env);
  lua_pushvalue(L, env);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kEnvKey);
  lua_pushvalue(L, allowed);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kAllowedKey);

  // Defence in depth: scripts never see the real globals, but drop file access anyway.
  for (const char* name : {"dofile", "loadfile"}) {
    lua_pushnil(L);
    lua_setfield(L, real, name);
  }
  lua_settop(L, base);
}

}  // namespace artana::lua
