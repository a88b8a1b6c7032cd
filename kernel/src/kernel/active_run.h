// Kernel::ActiveRun: a run's state locked for one step call (kernel.cc active()).
#pragma once

#include <memory>
#include <mutex>

#include "artana/kernel/kernel.h"
#include "kernel/run_state.h"

namespace artana::kernel {

struct Kernel::ActiveRun {
  std::shared_ptr<RunState> state;
  std::unique_lock<std::mutex> lock;
};

}  // namespace artana::kernel
