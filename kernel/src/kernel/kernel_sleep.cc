// Kernel: durable sleeps — a timer recorded in the ledger, so a run can stop, be reloaded
// (in another process, after a crash) and wake when its time has come.
//
// sleep_started {step_key, due_at_us, duration_us} opens the step (synced, status sleeping);
// sleep_completed {step_key, due_at_us, woke_at_us} is its terminal (status running). The
// caller supplies the clock (now_us), so the kernel never reads the time itself and a test
// or a scheduler decides what "now" is.
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"

namespace artana::kernel {
namespace {

namespace ev = events;

Result<int64_t> recorded_due(const RunState& state, const std::string& step_key,
                             const Json& payload, uint64_t seq) {
  const Json* due = payload.find("due_at_us");
  if (due == nullptr || !due->is_integer()) {
    return Status::corruption("run '{}' step '{}': sleep event at seq {} has no due_at_us",
                              state.run_id.str(), step_key, seq);
  }
  return due->as_integer();
}

}  // namespace

Result<SleepResult> Kernel::sleep(const TenantId& caller, const RunId& run,
                                  const std::string& step_key, int64_t duration_us,
                                  int64_t now_us) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  auto prepare = [](RunState&, bool) -> Result<RequestIdentity> { return RequestIdentity(); };
  // A timer has no request identity: the recorded due time wins, whatever duration the
  // script asks for now (an edited script must not move a deadline that was already
  // promised, nor halt the run over it).
  const StepQuery query{step_key, StepKind::kSleep, ReplayPolicy::kStrict, false, prepare};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(active_run, query));
  RunState& state = *active_run.state;
  if (decision.verdict == StepDecision::Verdict::kReplay) {
    const RecordedTerminal& terminal = decision.terminal;
    ARTANA_ASSIGN_OR_RETURN(int64_t due,
                            recorded_due(state, step_key, terminal.payload, terminal.seq));
    return SleepResult{true, due, true, terminal.seq};
  }
  if (decision.verdict == StepDecision::Verdict::kOpen) {
    const StepRecord& step = *decision.step;
    const int64_t due = step.due_at_us;  // from sleep_started (the step index keeps it)
    if (now_us < due) return SleepResult{false, due, false, step.open_seq};
    // Back to running only from sleeping: a halted status is not ours to undo.
    std::optional<RunStatus> status;
    if (state.status == RunStatus::kSleeping) status = RunStatus::kRunning;
    Json completed =
        Json::object({{"step_key", step_key}, {"due_at_us", due}, {"woke_at_us", now_us}});
    ARTANA_ASSIGN_OR_RETURN(
        AppendResult appended,
        append(state,
               event_drafts(EventDraft{std::string(ev::kSleepCompleted), std::move(completed)}),
               status));
    return SleepResult{true, due, false, appended.events.back().seq};
  }

  // Times are JSON integers in the ledger, exact only up to 2^53 (canonical_json.h).
  const int64_t wait = duration_us > 0 ? duration_us : 0;
  if (now_us < -kMaxSafeInteger || now_us > kMaxSafeInteger || wait > kMaxSafeInteger - now_us) {
    return Status::invalid_argument(
        "sleep '{}': now_us {} + duration_us {} is out of range (|t| <= 2^53 microseconds)",
        step_key, now_us, duration_us);
  }
  const int64_t due = now_us + wait;
  Json started =
      Json::object({{"step_key", step_key}, {"due_at_us", due}, {"duration_us", duration_us}});
  if (due <= now_us) {
    // Nothing to wait for: started and completed in one append, so the run is never seen
    // sleeping on a timer that is already due.
    Json completed =
        Json::object({{"step_key", step_key}, {"due_at_us", due}, {"woke_at_us", now_us}});
    ARTANA_ASSIGN_OR_RETURN(
        AppendResult appended,
        append(state,
               event_drafts(EventDraft{std::string(ev::kSleepStarted), std::move(started)},
                            EventDraft{std::string(ev::kSleepCompleted), std::move(completed)})));
    return SleepResult{true, due, false, appended.events.back().seq};
  }
  // Synced (barrier): the process may stop right after this, and the timer must survive it.
  // Only a running run becomes sleeping.
  std::optional<RunStatus> status;
  if (state.status == RunStatus::kRunning) status = RunStatus::kSleeping;
  ARTANA_ASSIGN_OR_RETURN(
      AppendResult appended,
      append(state, event_drafts(EventDraft{std::string(ev::kSleepStarted), std::move(started)}),
             status,
             /*barrier=*/true));
  return SleepResult{false, due, false, appended.events.back().seq};
}

Result<std::optional<int64_t>> Kernel::wake_time(const TenantId& caller, const RunId& run) {
  std::optional<int64_t> due;
  RunId at = run;
  // Down the tree a run's sleeping child holds, one run locked at a time (a parent's lock is
  // never held while a child's is taken: a child's step takes its ancestors').
  for (int depth = 0; depth <= kMaxChildDepth; ++depth) {
    std::optional<RunId> holder;
    {
      ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, at));
      const RunState& state = *active_run.state;
      // An ended run has nothing to wake for, even with a sleep it never finished.
      if (run_ended(state.status)) return depth == 0 ? std::optional<int64_t>() : due;
      if (!state.sleeps_due.empty() && (!due || state.sleeps_due.begin()->first < *due)) {
        due = state.sleeps_due.begin()->first;
      }
      // Held by a sleeping child: the run wakes when the child does. A child_waiting
      // recorded again for another child (end_child) has no due: that child knows it.
      if (const auto& wait = state.child_wait; wait && wait->status == RunStatus::kSleeping) {
        if (wait->due_at_us) {
          if (!due || *wait->due_at_us < *due) due = wait->due_at_us;
        } else {
          holder = wait->child_run_id;
        }
      }
    }
    if (!holder) break;
    at = *holder;
  }
  return due;
}

}  // namespace artana::kernel
