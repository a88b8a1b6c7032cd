// Named spdlog loggers, one per layer (STYLE.md §9): "kernel", "lua", "host". Each shares the
// default logger's sinks as they are when it is first used (the CLI points them at stderr
// before any run starts). Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace artana {

spdlog::logger& named_logger(const std::string& name);

}  // namespace artana
