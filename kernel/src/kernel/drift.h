// What resolve_drift decided (kernel_drift.cc).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "artana/kernel/kernel.h"
#include "kernel/run_state.h"

namespace artana::kernel {

struct Kernel::DriftDecision {
  std::vector<std::string> fields;  // what differs from the recorded request
  std::shared_ptr<RunState> fork;   // fork_on_drift: continue the step here (live)
};

}  // namespace artana::kernel
