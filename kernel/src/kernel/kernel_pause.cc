// Kernel: pause steps and resuming a run — a human's input handed back to the script, or
// an operator's go-ahead for a run that needed attention.
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"

namespace artana::kernel {

namespace ev = events;

Result<PauseResult> Kernel::pause(const TenantId& caller, const RunId& run,
                                  const std::string& step_key, const std::string& reason,
                                  const Json& context) {
  // A pause is a step: after fork_on_drift it belongs to the fork.
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  const ValueSource copy = [&context]() -> Result<Json> { return context; };
  RecordedValue prepare{*this, step_key, StepKind::kPause, copy};
  const StepQuery query{step_key, StepKind::kPause, ReplayPolicy::kStrict, false, prepare};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(active_run, query));
  RunState& state = *active_run.state;
  PauseResult result;
  switch (decision.verdict) {
    case StepDecision::Verdict::kReplay: {
      Json* input = decision.terminal.payload.find("input");
      result.input = input != nullptr ? std::move(*input) : Json();
      result.seq = decision.terminal.seq;
      return result;
    }
    case StepDecision::Verdict::kOpen:
      result.paused = true;
      result.seq = decision.step->open_seq;
      return result;
    case StepDecision::Verdict::kAdopted:  // only kinds with a live call are adopted
      return Status::internal("pause step '{}' was adopted", step_key);
    case StepDecision::Verdict::kDeferred:  // only a query asking for a replay only
      return Status::internal("pause step '{}' was deferred", step_key);
    case StepDecision::Verdict::kLive:
      break;
  }
  if (state.open_pause) {
    return Status::failed_precondition("run '{}' is already paused at step '{}'",
                                       state.run_id.str(), *state.open_pause);
  }
  ARTANA_ASSIGN_OR_RETURN(Json recorded, prepare.take());
  Json payload = Json::object_of(Json::Member("step_key", step_key), Json::Member("reason", reason),
                                 Json::Member("context", std::move(recorded)));
  record_placeholders(payload, std::move(prepare.allocated));
  ARTANA_ASSIGN_OR_RETURN(
      AppendResult appended,
      append(state, event_drafts(EventDraft{std::string(ev::kRunPaused), std::move(payload)}),
             RunStatus::kPaused, /*barrier=*/true));
  result.paused = true;
  result.seq = appended.events.back().seq;
  return result;
}

Status Kernel::resume(const TenantId& caller, const RunId& run, const Json& input) {
  // The run goes on where its steps go: the end of its fork chain.
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, run));
  const std::shared_ptr<RunState> state = active_run.state;
  if (state->child_wait) {
    // Held by a child that stopped: the child is what to resume. Once it goes on (resumed,
    // woken), its parent may be executed again to take it further.
    const RunState::ChildWait& wait = *state->child_wait;
    ARTANA_ASSIGN_OR_RETURN(RunInfo child, store_.run_info(wait.child_run_id));
    if (child.status == wait.status && child.status != RunStatus::kRunning) {
      return Status::failed_precondition(
                 "run '{}' waits for its child run '{}', which is {}: resume the child "
                 "(artana resume {})",
                 run.str(), wait.child_run_id.str(), run_status_name(child.status),
                 wait.child_run_id.str())
          .with_kind(ErrorKind::kInvalidState);
    }
    if (state->status != RunStatus::kRunning && !run_ended(state->status)) {
      return append(*state,
                    event_drafts(
                        EventDraft{std::string(ev::kRunResumed), Json::object({{"input", input}})}),
                    RunStatus::kRunning)
          .status();
    }
  }
  if (state->status == RunStatus::kPaused && state->open_pause) {
    // Numbered after everything recorded; a replay passes the pause and advances by it.
    PiiState operator_side;
    operator_side.recorded = state->pii.recorded;
    const std::string step_key = *state->open_pause;
    StepValue resumed(input);
    StepRequest rewrite{std::span<StepValue>(&resumed, 1)};
    rewrite.placeholders.numbering = &operator_side;
    ARTANA_RETURN_IF_ERROR(rewrite_request(*state, step_key, std::nullopt, rewrite));
    Json payload =
        Json::object_of(Json::Member("step_key", step_key), Json::Member("input", resumed.take()));
    record_placeholders(payload, std::move(rewrite.placeholders.allocated));
    ARTANA_RETURN_IF_ERROR(
        append(*state, event_drafts(EventDraft{std::string(ev::kPauseResumed), std::move(payload)}),
               RunStatus::kRunning)
            .status());
    state->recorded_ahead(step_key);
    return Status();
  }
  if (state->status == RunStatus::kNeedsAttention) {
    // The operator fixed what halted it (code, budget, capabilities): the next attempt runs.
    state->halt.reset();
    Json payload = Json::object({{"input", input}});
    return append(*state,
                  event_drafts(EventDraft{std::string(ev::kRunResumed), std::move(payload)}),
                  RunStatus::kRunning)
        .status();
  }
  return Status::failed_precondition("run '{}' is {}, not paused or needing attention", run.str(),
                                     run_status_name(state->status));
}

}  // namespace artana::kernel
