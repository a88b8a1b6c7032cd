// The kernel's logger, "kernel": halts and forks (info); fenced appends and unknown outcomes,
// with what an operator runs next (warn).
#pragma once

#include "artana/kernel/logging.h"

namespace artana::kernel {

inline spdlog::logger& kernel_log() {
  static spdlog::logger& logger = named_logger("kernel");
  return logger;
}

}  // namespace artana::kernel
