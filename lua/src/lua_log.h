// The Lua binding's spdlog logger, "lua" (STYLE.md §9): panics, kills, refused values.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace artana::lua {

// Shares the default logger's sinks (the CLI points them at stderr before any run starts).
inline spdlog::logger& lua_log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("lua")) return existing;
    auto made = spdlog::default_logger()->clone("lua");
    spdlog::register_logger(made);
    return made;
  }();
  return *logger;
}

}  // namespace artana::lua
