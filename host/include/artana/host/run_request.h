// Starting a run, or executing an existing one again, as `artana run`/`resume` and the C API
// ask for it: the run looked up in the ledger, a new run's tenant and input, an operator's
// budget and grants applied, a paused run resumed with its input, and the run that actually
// executes (a child executes through its top-most ancestor).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "artana/host/host.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/kernel.h"

namespace artana::host {

struct RunRequest {
  std::optional<std::string> tenant;  // a new run's (default "default"); an existing one's, checked
  std::vector<std::string> caps;      // a new run's capabilities
  std::vector<std::string> grants;    // resume: recorded operator widening
  std::optional<int64_t> budget_micro_usd;  // a new run's budget; resume: raised to it
  std::optional<kernel::ReplayPolicy> replay;
  std::optional<kernel::Json> input;  // a new run's input; a paused run's resume input
  std::optional<int64_t> seed;
  bool pinned = false;  // execute the sources the run recorded
};

// Fills `options` (tenant, input, seed, replay) and, for resume, `script` from the run's
// recorded identity; applies the budget and grants and resumes a paused run with the input.
// `options.run_id` names the run; afterwards it names the run to execute.
Status prepare_run(const RunRequest& request, kernel::Kernel& kernel, kernel::EventStore& store,
                   bool resume, RunOptions& options, std::string& script);

// The run that executes `run`: the top of its chain of parents (run:child) and forks.
Result<kernel::RunId> top_ancestor(kernel::EventStore& store, const kernel::RunId& run);

// The kernel's middleware for a policy: enforced (PII scrubber, quota, capabilities) or
// permissive (a quota guard that keeps a budget set and lets unpriced calls through).
kernel::KernelOptions policy_kernel_options(bool enforced);

// Where `require "artana.x"` looks by default: $ARTANA_STDLIB; else `../share/artana` beside
// the binary holding this code (libartana.so's directory, or the `artana` executable's), as
// `cmake --install` lays it out, wherever the tree was moved; else, for a binary inside the
// build tree, the source tree this build was configured from; else "" (none).
// stdlib_location.cc.
std::string default_stdlib_dir();

}  // namespace artana::host
