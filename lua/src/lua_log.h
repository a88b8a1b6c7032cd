// The Lua binding's logger, "lua": panics, handler exceptions.
#pragma once

#include "artana/kernel/logging.h"

namespace artana::lua {

inline spdlog::logger& lua_log() {
  static spdlog::logger& logger = named_logger("lua");
  return logger;
}

}  // namespace artana::lua
