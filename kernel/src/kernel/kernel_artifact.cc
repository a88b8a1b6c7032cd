// Kernel: artifacts — named values a run publishes (a report, a plan) and reads back.
//
// Stored as Python Artana stored them: a run_summary of kind "artifact::<key>" with payload
// {value}, the latest of a kind winning. A write is a summary step (once per step key); a
// read is a value step (artifact_read), so a replay gets the value it saw then even if the
// artifact was written again later.
#include "artana/kernel/kernel.h"
#include "kernel/active_run.h"
#include "kernel/event_types.h"
#include "kernel/run_state.h"

namespace artana::kernel {
namespace {

namespace ev = events;

constexpr size_t kMaxArtifactKeyBytes = 200;

// Printable ASCII only: keys end up in kinds, file names and log lines.
Status check_artifact_key(const std::string& key) {
  bool printable = !key.empty() && key.size() <= kMaxArtifactKeyBytes;
  for (char c : key) printable = printable && c >= 0x20 && c <= 0x7e;
  if (printable) return Status();
  return Status::invalid_argument("artifact key '{}' must be 1..{} bytes of printable ASCII", key,
                                  kMaxArtifactKeyBytes);
}

}  // namespace

Status Kernel::write_artifact(const TenantId& caller, const RunId& run, const std::string& step_key,
                              const std::string& key, const Json& value) {
  ARTANA_RETURN_IF_ERROR(check_artifact_key(key));
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  RunState& state = *active_run.state;
  if (state.halt) return *state.halt;
  // A step like any other: a completed run never records a new one.
  if (!state.steps.count(step_key) && state.status == RunStatus::kCompleted) {
    return never_live(state, step_key);
  }
  return summary_locked(state, std::string(ev::kArtifactKindPrefix) + key, value, step_key);
}

Result<ValueStep> Kernel::read_artifact(const TenantId& caller, const RunId& run,
                                        const std::string& step_key, const std::string& key) {
  ARTANA_RETURN_IF_ERROR(check_artifact_key(key));
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  RunState& state = *active_run.state;
  // Runs with the run locked: it reads the state and the store, never a locking Kernel
  // method. The state's artifact index was built from the run's events, a fork's shared
  // prefix included, and the store reads a fork's prefix seqs from its parent.
  auto latest = [this, &state, &key]() -> Result<Json> {
    auto it = state.artifacts.find(key);
    if (it == state.artifacts.end()) return Json();
    ARTANA_ASSIGN_OR_RETURN(std::vector<Event> events, store_.read(state.run_id, it->second, 1));
    if (events.empty() || events.front().type != ev::kRunSummary) {
      return Status::corruption("run '{}': artifact '{}' expected at seq {}", state.run_id.str(),
                                key, it->second);
    }
    const Json* value = events.front().payload.find("value");
    return value != nullptr ? *value : Json();
  };
  return value_step_locked(state, step_key, ValueKind::kArtifactRead, latest);
}

}  // namespace artana::kernel
