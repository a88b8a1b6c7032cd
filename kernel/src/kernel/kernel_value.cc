// Kernel: value steps — the time, random numbers, memoised computations, version markers
// and artifact reads a script records once and gets back on every replay.
#include "artana/kernel/kernel.h"
#include "kernel/step_machine.h"

namespace artana::kernel {

Result<ValueStep> Kernel::value_step(const TenantId& caller, const RunId& run,
                                     const std::string& step_key, ValueKind kind,
                                     const std::function<Result<Json>()>& compute) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  return value_step_locked(active_run, step_key, kind, compute);
}

Result<ValueStep> Kernel::value_step_locked(ActiveRun& run, const std::string& step_key,
                                            ValueKind kind,
                                            const std::function<Result<Json>()>& compute) {
  auto prepare = [](RunState&, bool) -> Result<RequestIdentity> { return RequestIdentity(); };
  const StepQuery query{step_key, step_kind(kind), ReplayPolicy::kStrict, false, prepare};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(run, query));
  RunState& state = *run.state;
  if (decision.verdict != StepDecision::Verdict::kLive) {
    if (decision.verdict != StepDecision::Verdict::kReplay) {
      return Status::corruption("run '{}' step '{}': a {} step without its value",
                                state.run_id.str(), step_key, value_kind_name(kind));
    }
    RecordedTerminal& terminal = decision.terminal;
    Json* value = terminal.payload.find("value");
    return ValueStep{state.run_id, value != nullptr ? std::move(*value) : Json(), true,
                     terminal.seq};
  }
  ARTANA_ASSIGN_OR_RETURN(Json value, compute());
  StepValue computed(&value);
  StepResult result{std::span<StepValue>(&computed, 1)};
  rewrite_result(state, step_key, query.kind, result);
  Json payload =
      Json::object_of(Json::Member("step_key", step_key), Json::Member("value", std::move(value)));
  record_placeholders(payload, std::move(result.placeholders.allocated));
  const std::string_view type = step_kind_row(query.kind).ended[0];
  ARTANA_ASSIGN_OR_RETURN(
      AppendResult appended,
      append(state, event_drafts(EventDraft{std::string(type), std::move(payload)})));
  const Event& recorded = appended.events.back();
  return ValueStep{state.run_id, *recorded.payload.find("value"), false, recorded.seq};
}

Result<int64_t> Kernel::version(const TenantId& caller, const RunId& run,
                                const std::string& change_id, int64_t max) {
  if (change_id.empty()) return Status::invalid_argument("a version needs a change id");
  if (max < 1) return Status::invalid_argument("version '{}': max must be at least 1", change_id);
  const std::string key = "version:" + change_id;
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, key));
  RunState& state = *active_run.state;
  // Old history with no marker: the old path, now and for the rest of this execution.
  if (state.old_versions.count(change_id)) return int64_t{0};
  if (!state.steps.count(key) && state.replaying()) {
    state.old_versions.insert(change_id);
    return int64_t{0};
  }
  ARTANA_ASSIGN_OR_RETURN(ValueStep step,
                          value_step_locked(active_run, key, ValueKind::kVersion,
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
