// The kernel's spdlog logger, "kernel" (STYLE.md §9): halts and forks (info); fenced appends
// and unknown outcomes, with what an operator runs next (warn).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace artana::kernel {

// Shares the default logger's sinks (the CLI points them at stderr before any run starts).
inline spdlog::logger& kernel_log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("kernel")) return existing;
    auto made = spdlog::default_logger()->clone("kernel");
    spdlog::register_logger(made);
    return made;
  }();
  return *logger;
}

}  // namespace artana::kernel
