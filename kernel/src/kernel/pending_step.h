// Live steps between begin_* and finish_*.
#pragma once

#include <memory>
#include <string>

#include "artana/kernel/kernel.h"
#include "kernel/model_identity.h"
#include "kernel/run_state.h"

namespace artana::kernel {

struct Kernel::PendingModel {
  std::shared_ptr<RunState> state;
  std::string step_key;
  RequestIdentity identity;
  ModelCall call;
  Json request_pii;  // placeholders the request's scrub allocated
};

struct Kernel::PendingTool {
  std::shared_ptr<RunState> state;
  std::string step_key;
  std::string request_hash;
  std::shared_ptr<const ToolRegistry> registry;  // the run's registry the call began under
};

}  // namespace artana::kernel
