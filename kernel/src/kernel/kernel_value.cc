// Kernel: value steps — the time, random numbers, memoised computations, version markers
// and artifact reads a script records once and gets back on every replay.
#include "artana/kernel/kernel.h"
#include "kernel/active_run.h"
#include "kernel/event_types.h"
#include "kernel/run_state.h"
#include "middleware/pii_redactor.h"

namespace artana::kernel {
namespace {

namespace ev = events;

std::string_view terminal_type(ValueKind kind) {
  switch (kind) {
    case ValueKind::kTime:
      return ev::kTimeRead;
    case ValueKind::kRandom:
      return ev::kRandomRead;
    case ValueKind::kStep:
      return ev::kStepCompleted;
    case ValueKind::kVersion:
      return ev::kVersionMarker;
    case ValueKind::kArtifactRead:
      return ev::kArtifactRead;
  }
  return ev::kStepCompleted;
}

}  // namespace

Result<ValueStep> Kernel::value_step(const TenantId& caller, const RunId& run,
                                     const std::string& step_key, ValueKind kind,
                                     const std::function<Result<Json>()>& compute) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  return value_step_locked(*active_run.state, step_key, kind, compute);
}

Result<ValueStep> Kernel::value_step_locked(RunState& state, const std::string& step_key,
                                            ValueKind kind,
                                            const std::function<Result<Json>()>& compute) {
  if (state.halt) return *state.halt;
  const std::string kind_name(value_kind_name(kind));
  if (auto found = state.steps.find(step_key); found != state.steps.end()) {
    const StepRecord& step = found->second;
    if (step.kind != kind_name || !step.terminal) {
      return halt(state,
                  Status::failed_precondition("step '{}' was recorded as a {} step, now reached "
                                              "as a {} step",
                                              step_key, step.kind, kind_name)
                      .with_kind(error_kind::kReplayDrift, step_key),
                  RunStatus::kNeedsAttention, Json::object());
    }
    state.reached(step_key, *step.terminal);
    const Json* value = step.terminal->payload.find("value");
    return ValueStep{state.run_id, value != nullptr ? *value : Json(), true, step.terminal->seq};
  }
  if (state.status == RunStatus::kCompleted) {
    return never_live(state, step_key);
  }
  ARTANA_ASSIGN_OR_RETURN(Json value, compute());
  Json allocated = pii_ ? scrub_pii(state.pii, value, ScrubMode::kLive) : Json::object();
  Json payload = Json::object({{"step_key", step_key}, {"value", std::move(value)}});
  if (allocated.size() > 0) payload.set("pii_allocated", std::move(allocated));
  ARTANA_ASSIGN_OR_RETURN(AppendResult appended,
                          append(state, {{std::string(terminal_type(kind)), std::move(payload)}}));
  const Event& recorded = appended.events.back();
  return ValueStep{state.run_id, *recorded.payload.find("value"), false, recorded.seq};
}

Result<int64_t> Kernel::version(const TenantId& caller, const RunId& run,
                                const std::string& change_id, int64_t max) {
  if (change_id.empty()) return Status::invalid_argument("a version needs a change id");
  if (max < 1) return Status::invalid_argument("version '{}': max must be at least 1", change_id);
  const std::string key = "version:" + change_id;
  {
    ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, key));
    const std::shared_ptr<RunState>& state = active_run.state;
    // Old history with no marker: the old path, now and for the rest of this execution.
    if (state->old_versions.count(change_id)) return int64_t{0};
    if (!state->steps.count(key) && state->replaying()) {
      state->old_versions.insert(change_id);
      return int64_t{0};
    }
  }
  ARTANA_ASSIGN_OR_RETURN(ValueStep step,
                          value_step(caller, run, key, ValueKind::kVersion,
                                     [max]() -> Result<Json> { return Json(max); }));
  if (!step.value.is_integer()) {
    return Status::corruption("run '{}': version marker '{}' is not an integer", run.str(),
                              change_id);
  }
  return step.value.as_integer();
}

Result<bool> Kernel::replaying(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  std::lock_guard<std::mutex> lock(state->mu);
  return state->replaying();
}

}  // namespace artana::kernel
