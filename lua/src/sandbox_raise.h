// Raising sandbox and limit errors as the one error shape scripts see (STYLE.md §5): a
// table { kind = "sandbox_violation" | "limit_exceeded", message = "..." }.
//
// Both go through lua_error.h's raise_error, so scripts see one error shape with `where`
// and a traceback from the message handler.
// Threading: as for the lua_State.
#pragma once

#include <lua.hpp>

namespace artana::lua::detail {

// Raises { kind = "sandbox_violation", message = "<where>: <formatted>" }. The format is
// lua_pushfstring's (%s %d %I %f %c %%), so no C++ string is built.
// REQUIRES: no C++ object with a destructor is alive in the caller.   [-0, +1, v]
int raise_violation(lua_State* L, const char* fmt, ...);

// Raises { kind = "limit_exceeded", message = <message> }.   [-0, +1, v]
int raise_limit(lua_State* L, const char* message);

}  // namespace artana::lua::detail
