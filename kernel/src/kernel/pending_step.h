// A live model step between begin_model and finish_model.
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
};

}  // namespace artana::kernel
