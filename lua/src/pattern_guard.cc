// Guards for the string functions that run long in C, where the count hook cannot fire
// (host_design.md §2.2): the pattern functions and string.format's %p / %s. See
// lua_state.h for why this is a bounded-cost guard and not an interruptible matcher.
#include <cstring>

#include "lua_state.h"
#include "sandbox_internal.h"
#include "sandbox_raise.h"

namespace artana::lua::detail {
namespace {

constexpr size_t kMaxSubjectBytes = 1 << 20;
constexpr size_t kMaxPatternBytes = 256;
constexpr int kMaxQuantifiers = 16;

// Counts quantified items the way lstrlib.c's matcher reads a pattern (single items,
// %-escapes, [sets], %b and %f), so `%-` or `[+-]` are not counted as quantifiers.
int count_quantifiers(const char* p, size_t len) {
  size_t i = (len > 0 && p[0] == '^') ? 1 : 0;
  int quantifiers = 0;
  while (i < len) {
    const char c = p[i];
    if (c == '(' || c == ')') {
      ++i;
      continue;
    }
    if (c == '%' && i + 1 < len && p[i + 1] == 'b') {
      i += 4;
      continue;
    }
    if (c == '%' && i + 1 < len && p[i + 1] == 'f') {
      i += 2;  // the set that follows is read as a single item below
      continue;
    }
    if (c == '%') {
      i += 2;
    } else if (c == '[') {
      ++i;
      if (i < len && p[i] == '^') ++i;
      do {  // the first character of a set is literal, even ']'
        if (i < len && p[i] == '%') ++i;
        ++i;
      } while (i < len && p[i] != ']');
      ++i;
    } else {
      ++i;
    }
    if (i < len && std::strchr("*+-?", p[i]) != nullptr) {
      ++quantifiers;
      ++i;
    }
  }
  return quantifiers;
}

// Upvalues: 1 the original function, 2 its name ("find"). Checks, charges, then calls it.
int guarded_pattern_call(lua_State* L) {
  size_t n = 0;
  size_t m = 0;
  luaL_checklstring(L, 1, &n);
  const char* pattern = luaL_checklstring(L, 2, &m);
  const char* name = lua_tostring(L, lua_upvalueindex(2));
  // find(s, p, init, plain): a plain find runs no matcher.
  const bool plain = std::strcmp(name, "find") == 0 && lua_toboolean(L, 4);
  if (n > kMaxSubjectBytes)
    return raise_limit(L, "string pattern subject too long (more than 1 MiB)");
  if (!plain && m > kMaxPatternBytes)
    return raise_limit(L, "pattern too complex: longer than 256 bytes");
  if (!plain && count_quantifiers(pattern, m) > kMaxQuantifiers)
    return raise_limit(L, "pattern too complex: more than 16 quantifiers (* + - ?)");
  LuaState* state = LuaState::from(L);
  const uint64_t cost = plain ? n + m : (uint64_t{n} + 1) * (uint64_t{m} + 1);
  if (state != nullptr && !state->charge(cost)) {
    return raise_limit(L, state->kill_reason());  // uncatchable: the pcall guards rethrow
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
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
  for (const char* name : {"find", "match", "gmatch", "gsub"}) {
    lua_getfield(L, index, name);
    lua_pushstring(L, name);
    lua_pushcclosure(L, guarded_pattern_call, 2);
    lua_setfield(L, index, name);
  }
  lua_getfield(L, index, "format");
  lua_pushcclosure(L, guarded_format, 1);
  lua_setfield(L, index, "format");
}

}  // namespace artana::lua::detail
