// Kernel: cancelling a run. Cancel is a request recorded for the run: applied at once when
// nobody else executes it, else left (cancel_requested) for the process that does, which
// applies it within about a second (take_cancel, from its host's upkeep) — or whoever executes the
// run next, at its first step.
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"
#include "kernel_log.h"

namespace artana::kernel {
namespace {

namespace ev = events;

// How often a cancel is retried when the owner appends in between (its head moved).
constexpr int kCancelAttempts = 8;

}  // namespace

Status Kernel::apply_cancel(RunState& state, const std::string& reason) {
  ARTANA_RETURN_IF_ERROR(append(state,
                                event_drafts(EventDraft{std::string(ev::kRunCancelled),
                                                        Json::object({{"reason", reason}})}),
                                RunStatus::kCancelled, /*barrier=*/true)
                             .status());
  state.halt = Status::failed_precondition("run '{}' was cancelled: {}", state.run_id.str(), reason)
                   .with_kind(ErrorKind::kCancelled);
  kernel_log().info("run cancelled run={} reason={}", state.run_id.str(), reason);
  return Status();
}

Status Kernel::catch_up(RunState& state) {
  ARTANA_ASSIGN_OR_RETURN(RunInfo head, store_.head(state.run_id));
  if (head.head_seq > state.head_seq) {
    ARTANA_ASSIGN_OR_RETURN(std::vector<Event> events,
                            store_.read(state.run_id, state.head_seq + 1));
    for (const Event& event : events) ARTANA_RETURN_IF_ERROR(state.apply(event));
  }
  // A head behind the state's is a commit of ours that failed (note_commit_failure): the
  // state's status is the one this process decided.
  if (head.head_seq >= state.head_seq) state.status = head.status;
  return Status();
}

Result<CancelResult> Kernel::cancel(const TenantId& caller, const RunId& run,
                                    const std::string& reason) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  std::vector<RunId> children;
  Result<CancelResult> cancelled = cancel_one(*state, reason, children);
  if (!cancelled.ok()) return cancelled;
  // A cancel cascades: the run's children that have not ended are cancelled too (each of
  // theirs in turn), so no part of the tree goes on spending.
  for (const RunId& child : children) {
    Result<CancelResult> below =
        cancel(caller, child, "its parent '" + run.str() + "' was cancelled");
    if (!below.ok() && below.status().code() != StatusCode::kFailedPrecondition &&
        below.status().code() != StatusCode::kNotFound) {
      kernel_log().warn("cancel of child run={} failed: {}", child.str(), below.status().message());
    }
  }
  return cancelled;
}

Result<CancelResult> Kernel::cancel_one(RunState& run_state, const std::string& reason,
                                        std::vector<RunId>& children) {
  RunState* state = &run_state;
  const RunId run = state->run_id;
  std::lock_guard<std::mutex> lock(state->mu);
  for (const auto& [key, step] : state->steps) {
    if (step.kind != StepKind::kChild || step.open_seq == 0 || step.has_terminal()) continue;
    ARTANA_ASSIGN_OR_RETURN(Event started, store_.read_event(run, step.open_seq));
    const Json* child = started.payload.find("child_run_id");
    if (child != nullptr && child->is_string()) children.emplace_back(child->as_string());
  }
  for (int attempt = 0;; ++attempt) {
    if (run_ended(state->status)) {
      return Status::failed_precondition("run '{}' already ended ({})", run.str(),
                                         run_status_name(state->status));
    }
    Status applied = apply_cancel(*state, reason);
    if (applied.ok()) return CancelResult::kCancelled;
    if (applied.code() == StatusCode::kLeaseHeld) {
      // Another live process executes the run: the request is left for it.
      AppendRequest request;
      request.run_id = state->run_id;
      request.outside_owner = true;
      request.expected_head_seq = state->head_seq;
      request.barrier = true;
      request.drafts = {{std::string(ev::kCancelRequested), Json::object({{"reason", reason}})}};
      Result<AppendResult> requested = store_.append(std::move(request));
      if (requested.ok()) {
        for (const Event& event : requested->events) ARTANA_RETURN_IF_ERROR(state->apply(event));
        kernel_log().info("cancel requested run={} reason={} (another process executes it)",
                          run.str(), reason);
        return CancelResult::kRequested;
      }
      applied = requested.status();
    }
    // The run moved on while we decided (its owner appended): look again.
    if (applied.code() != StatusCode::kConflict || attempt + 1 >= kCancelAttempts) return applied;
    ARTANA_RETURN_IF_ERROR(catch_up(*state));
  }
}

Result<bool> Kernel::take_cancel(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  std::lock_guard<std::mutex> lock(state->mu);
  if (state->status == RunStatus::kCancelled) return true;
  if (run_ended(state->status)) return false;
  // With appends of ours in flight the look waits for the next upkeep: reading the head now
  // would wait for their commit (a read sees every append issued before it).
  if (state->mark->pending()) return false;
  if (!state->cancel_requested) ARTANA_RETURN_IF_ERROR(catch_up(*state));
  if (state->status == RunStatus::kCancelled) {
    state->halt = Status::failed_precondition("run '{}' was cancelled", run.str())
                      .with_kind(ErrorKind::kCancelled);
    return true;
  }
  if (!state->cancel_requested || run_ended(state->status)) return false;
  ARTANA_RETURN_IF_ERROR(apply_cancel(*state, *state->cancel_requested));
  return true;
}

}  // namespace artana::kernel
