// The JSON -> Lua walk push_json runs (lua_json_push.cc), for the binding's other pushes that
// are already inside a protected call (lua_json_text.cc adds a result's own members with it).
#pragma once

#include <lua.hpp>

#include "artana/kernel/json.h"

namespace artana::lua::detail {

// Pushes `value` at nesting `depth` (1 at the top). May raise: call it only inside lua_pcall,
// with nothing but references and trivially destructible values alive.   [-0, +1, e]
void push_json_value(lua_State* L, const kernel::Json& value, int depth);

}  // namespace artana::lua::detail
