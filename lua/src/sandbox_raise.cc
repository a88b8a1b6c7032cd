#include "sandbox_raise.h"

#include <lua.hpp>

#include <cstdarg>
#include <string_view>

#include "artana/lua/lua_error.h"

namespace artana::lua::detail {
namespace {

// Stack: message on top. Raises it as the one error shape (lua_error.h). The
// BoundaryError is trivially destructible, so the longjmp skips no destructor.
int raise_table(lua_State* L, ErrorKind kind) {
  size_t length = 0;
  const char* text = lua_tolstring(L, -1, &length);  // already a string: cannot raise
  const BoundaryError error =
      BoundaryError::make(error_kind_name(kind), std::string_view(text, length));
  lua_pop(L, 1);  // the message: its text is copied into `error`
  return raise_error(L, error);
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
  return raise_table(L, ErrorKind::kSandboxViolation);
}

int raise_limit(lua_State* L, const char* message) {
  lua_pushstring(L, message);
  return raise_table(L, ErrorKind::kLimitExceeded);
}

}  // namespace artana::lua::detail
