#include "sandbox_raise.h"

#include <cstdarg>

namespace artana::lua::detail {
namespace {

// Error tables share one metatable so `tostring(err)` and uncaught errors read
// "kind: message" instead of "table".
int error_tostring(lua_State* L) {
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "%s: %s", luaL_optstring(L, -2, "error"), luaL_optstring(L, -1, ""));
  return 1;
}

// Stack: message on top. Replaces it with the error table and raises it.
int raise_table(lua_State* L, const char* kind) {
  lua_createtable(L, 0, 2);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushvalue(L, -2);  // the message
  lua_setfield(L, -2, "message");
  if (luaL_newmetatable(L, "artana.sandbox_error")) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);  // scripts may not reach or change the shared metatable
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
  return lua_error(L);
}

}  // namespace

int raise_violation(lua_State* L, const char* fmt, ...) {
  luaL_where(L, 1);  // "chunk:line: " of the Lua code that did the forbidden thing
  va_list args;
  va_start(args, fmt);
  lua_pushvfstring(L, fmt, args);  // may raise on memory: va_end is then skipped, which
  va_end(args);                    // glibc's va_end (a no-op) tolerates
  lua_concat(L, 2);
  // Nothing with a destructor lives in this frame or (by REQUIRES) in the caller.
  return raise_table(L, "sandbox_violation");
}

int raise_limit(lua_State* L, const char* message) {
  lua_pushstring(L, message);
  return raise_table(L, "limit_exceeded");
}

}  // namespace artana::lua::detail
