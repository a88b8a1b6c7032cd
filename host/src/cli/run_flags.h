// The flags of `run`, `resume` and `worker`, and turning them into a Host's RunOptions
// (looking the run up, applying an operator's budget and grants, resuming a paused run).
#pragma once

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "artana/host/host.h"
#include "artana/host/run_request.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/kernel.h"
#include "ledger_commands.h"

namespace artana::host {

struct RunFlags {
  std::string verb;
  std::string target;  // run: SCRIPT; resume: RUN_ID; worker: empty
  std::optional<std::string> run_id;
  std::optional<std::string> tenant;
  std::vector<std::string> caps;    // --caps a,b (a new run's capabilities)
  std::vector<std::string> grants;  // --grant a,b (resume: recorded operator widening)
  std::optional<int64_t> budget_micro_usd;
  bool enforced = false;
  kernel::Durability durability = kernel::Durability::kEffects;
  std::optional<kernel::ReplayPolicy> replay;
  std::optional<kernel::Json> input;
  std::optional<int64_t> seed;
  uint64_t max_memory_mb = 256;
  uint64_t max_instructions = 1'000'000'000;
  bool watch = false;
  bool pinned = false;
  bool once = false;       // worker: one pass, then exit
  int64_t poll_ms = 1000;  // worker: how often to look for due timers
  // Model endpoints (model_flags.h).
  std::optional<std::string> model_endpoint, api_key_env, models_file;
  bool stream = false;
  // run:http: --http-allow host[:port],… and --secret-env NAME,…
  std::vector<std::string> http_allow, secret_env;
  std::string workspace;  // run:exec: --workspace DIR (an existing directory)
};

// Errors name the flag and what is wrong (kInvalidArgument).
Result<RunFlags> parse_run_flags(const std::vector<std::string>& args);

// prepare_run (run_request.h) with the flags' request.
Status prepare_run(const RunFlags& flags, kernel::Kernel& kernel, kernel::EventStore& store,
                   bool resume, RunOptions& options, std::string& script);

// Where `require "artana.x"` looks: $ARTANA_STDLIB, else the source tree's stdlib/.
std::string stdlib_directory();

// `artana worker`: wakes sleeping runs whose timers are due and takes over running runs
// nobody holds; runs until stop is set (or one pass with --once).
int run_worker(const GlobalOptions& global, const RunFlags& flags, kernel::Kernel& kernel,
               kernel::EventStore& store, Host& host, volatile std::sig_atomic_t& stop);

}  // namespace artana::host
