// A LuaState for the Lua binding's tests, its creation checked.
#pragma once

#include <catch2/catch.hpp>

#include <memory>

#include "artana/lua/lua_limits.h"
#include "artana/lua/lua_state.h"

namespace artana::testing {

inline std::unique_ptr<lua::LuaState> make_state(const lua::LuaLimits& limits = {},
                                                 const lua::SandboxOptions& options = {}) {
  auto state = lua::LuaState::create(limits, options);
  REQUIRE(state.ok());
  return std::move(state).value();
}

}  // namespace artana::testing
