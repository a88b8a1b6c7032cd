// The values a Host takes and gives (host.h): its options, a run's options and outcome, a
// tick's result, a reload's report. Apart from the Host so that code passing them around
// need not see the scheduler's insides.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/host/model_endpoints.h"
#include "artana/kernel/kernel.h"
#include "artana/lua/lua_limits.h"

namespace artana::host {
// An application's own modules (a game's archives): the source of module `name` (`require
// "ai.brain"` asks for "ai.brain"), nullopt when the application has none by that name, or an
// error saying why it could not be read.
using ModuleLoader = std::function<Result<std::optional<std::string>>(std::string_view name)>;

struct HostOptions {
  lua::LuaLimits limits;  // per execution of a run (the instruction count restarts on resume)
  // Microseconds since the Unix epoch: run:now() and durable timers. Tests replace it.
  std::function<int64_t()> clock;
  // Receives each print() line of a script, and the run it came from. Empty: spdlog info.
  std::function<void(const kernel::RunId&, std::string_view)> print_sink;
  // Directory of the stdlib modules (`require "artana.x"`); empty: none.
  std::string stdlib_dir;
  // Asked first for every module a script requires that is not artana.*: what it returns is
  // recorded and replayed like a file's source. Empty: a script's folder only.
  ModuleLoader module_loader;
  // Free an idle run's lua_State (paused, sleeping or ended) and keep only what it takes to
  // execute it again: a paused run then costs a few hundred bytes here, and resuming it
  // rebuilds its state by replay.
  bool park_idle_runs = true;
  // OpenAI-compatible endpoints for live model steps no Lua port takes (model_endpoints.h).
  ModelEndpoints models;
  // run:http: the hosts it may reach ("host[:port]"; none: no host), and the environment
  // variables a request header may read with {secret = "NAME"}.
  std::vector<std::string> http_allow;
  std::vector<std::string> secret_env;
  // run:exec: the directory programs run in (their cwd must be inside it); empty: run:exec
  // is refused.
  std::string workspace;
};

struct RunOptions {
  std::optional<kernel::RunId> run_id;  // a new id is issued when absent
  kernel::TenantContext tenant;         // for a new run; an existing run keeps its own
  // A new run's replay policy (default strict). For an existing run: the policy of every
  // step of this execution that does not name its own (the run keeps its recorded one).
  std::optional<kernel::ReplayPolicy> replay;
  kernel::Json input = kernel::Json::object();
  std::optional<int64_t> seed;  // run:random's seed; derived from the run id when absent
  // Execute an existing run under the exact sources it last recorded (kept in the ledger),
  // not the files at its path now; script_path is then ignored.
  bool pinned = false;
  // A child run (run:child): the run that started it, recorded in run_started.
  std::optional<kernel::RunId> parent_run_id;
};

// How a run stands when the host has nothing left to do for it.
struct RunOutcome {
  // The run that executed: after fork_on_drift, the fork the run went on in.
  kernel::RunId run_id;
  std::optional<kernel::RunId> forked_from;  // the run asked for, when run_id is its fork
  kernel::RunStatus status = kernel::RunStatus::kRunning;
  kernel::Json output;  // the entry's return value, when completed
  // When failed, halted, paused for budget, cancelled: {kind, message, step_key, where,
  // traceback}; null otherwise.
  kernel::Json error;
};

struct TickResult {
  size_t resumed = 0;       // task resumptions this tick
  bool more_ready = false;  // work is ready now: tick again soon
  size_t ready = 0;         // runs with work ready when the tick returned (the budget ran out), or
                            // about to have it (a reloaded run whose state is being recycled)
  // The earliest durable timer of a sleeping task, µs since the epoch.
  std::optional<int64_t> next_timer_us;
  // Requests of the outside world in flight (a model's HTTP call): their completions make
  // work later. wait_for_work() waits for them without spinning.
  size_t in_flight = 0;
};

// How a run's execution under reloaded code went (Host::reload_script), told once per run
// when it has replayed what it recorded (or stopped). The values are artana.h's
// ARTANA_RELOAD_*.
enum class ReloadOutcome {
  kContinued = 1,  // the new code replayed the run's history as recorded
  kDriftAllowed,   // a step's request changed and the run's policy allowed it
  kForked,         // a step's request changed: the run went on in a fork (fork_on_drift)
  kHaltedDrift,    // a step's request changed: the run waits in needs_attention (strict)
  kHaltedError,    // the new code raised: the run waits in needs_attention or failed
  kEnded,          // it ended under its old code before its restart: nothing replayed
  kSuspended,      // suspended (suspend_script) before it replayed: it waits for resume_script
};
struct ReloadReport {
  kernel::RunId run;
  ReloadOutcome outcome = ReloadOutcome::kContinued;
  // {step_key, drift_fields} (drift), {fork_run_id, step_key, drift_fields} (fork), the run's
  // error {kind, message, step_key, ...} (halted); {status} (ended); {} when continued or
  // suspended.
  kernel::Json detail;
};
using ReloadListener = std::function<void(const ReloadReport&)>;

}  // namespace artana::host
