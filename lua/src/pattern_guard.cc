// Guards for the string functions that run long in C, where the count hook cannot fire
// (docs/lua_binding.md): the pattern functions and string.format's %p / %s.
//
// find/match/gmatch/gsub are replaced by the step-bounded copies of bounded_match.h, which
// charge each matcher step to the instruction budget, so a pathological pattern ends with
// the run's limit_exceeded kill instead of hanging the host; patterns need no size or
// quantifier caps. Subjects above 1 MiB are still refused (a catchable limit_exceeded).
#include <cstring>

#include <lua.hpp>

#include "bounded_match.h"
#include "sandbox_internal.h"
#include "sandbox_raise.h"

namespace artana::lua::detail {
namespace {

constexpr size_t kMaxSubjectBytes = 1 << 20;

// Upvalue 1: the bounded implementation (a light C function). Refuses subjects above
// kMaxSubjectBytes, then runs the implementation in this frame; it charges its matcher
// steps to the instruction budget and raises the run's kill when they run out.
int guarded_pattern_call(lua_State* L) {
  size_t n = 0;
  luaL_checklstring(L, 1, &n);
  if (n > kMaxSubjectBytes)
    return raise_limit(L, "string pattern subject too long (more than 1 MiB)");
  return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

// Upvalue 1: the original string.format. Refuses %p and renders %s arguments with the
// sandbox's tostring, so neither prints an address.
int guarded_format(lua_State* L) {
  size_t len = 0;
  const char* fmt = luaL_checklstring(L, 1, &len);
  const int top = lua_gettop(L);
  int arg = 1;
  for (size_t i = 0; i < len; ++i) {
    if (fmt[i] != '%') continue;
    if (++i < len && fmt[i] == '%') continue;
    ++arg;
    while (i < len && std::strchr("-+ #0123456789.", fmt[i]) != nullptr) ++i;
    if (i >= len) break;
    if (fmt[i] == 'p')
      return raise_violation(L, "string.format %%p is refused: addresses differ between runs");
    if (fmt[i] == 's' && arg <= top) {
      push_safe_tostring(L, arg);
      lua_replace(L, arg);
    }
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, top, 1);
  return 1;
}

}  // namespace

void guard_string_table(lua_State* L, int index) {
  index = lua_absindex(L, index);
  const luaL_Reg bounded[] = {{"find", bounded_find},
                              {"match", bounded_match},
                              {"gmatch", bounded_gmatch},
                              {"gsub", bounded_gsub}};
  for (const luaL_Reg& fn : bounded) {
    lua_pushcfunction(L, fn.func);
    lua_pushcclosure(L, guarded_pattern_call, 1);
    lua_setfield(L, index, fn.name);
  }
  lua_getfield(L, index, "format");
  lua_pushcclosure(L, guarded_format, 1);
  lua_setfield(L, index, "format");
}

}  // namespace artana::lua::detail
