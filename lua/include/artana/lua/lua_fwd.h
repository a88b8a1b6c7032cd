// What the Lua binding's public headers need of Lua itself: the state type, declared, and
// the "no reference" value. Users of those headers (host/, embedders) do not see <lua.hpp>;
// the code that works a Lua stack includes it itself.
#pragma once

struct lua_State;
struct lua_Debug;

namespace artana::lua {

// LUA_NOREF: a registry reference to nothing (checked against Lua's in lua_state.cc).
inline constexpr int kNoRef = -2;

}  // namespace artana::lua
