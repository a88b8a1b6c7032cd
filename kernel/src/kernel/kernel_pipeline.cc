// Kernel: pipelined commits (KernelOptions::pipelined_commits). An append of a run this
// kernel executes is applied to the run's state at once, from the store's prediction, and
// committed on the store's commit thread; the run's CommitMark counts it until it lands.
// The host waits on the mark, not on the disk: its thread never syncs.
//
// A commit that fails leaves the state ahead of the ledger. Nothing outside saw the steps
// it carried (the host waits for the mark before a script sees a result or an effect
// starts), so the run halts with that failure — its later appends fail too, their expected
// heads never reached — and the ledger's account stands: a later execution replays up to
// what was committed and goes on from there.
#include "artana/kernel/fault_points.h"
#include "artana/kernel/kernel.h"
#include "kernel/step_machine.h"
#include "kernel_log.h"

namespace artana::kernel {

void Kernel::count_pipelined(CommitMark& mark) {
  mark.issue();
  held_->in_flight.fetch_add(1, std::memory_order_acq_rel);
}

Result<AppendResult> Kernel::send_pipelined(RunState& state, AppendRequest request) {
  fault_point("append.before");
  std::shared_ptr<CommitMark> mark = state.mark;
  count_pipelined(*mark);
  Result<AppendResult> issued = store_.append_pipelined(
      std::move(request),
      [this, mark, run = state.run_id](const Status& status) { landed(*mark, run, status); });
  if (!issued.ok()) {
    // Refused before anything was queued (a lease another process holds, a stale epoch, a
    // taken id): the caller gets it now, as from a committed append.
    if (issued.status().code() == StatusCode::kFenced) {
      kernel_log().warn("append fenced run={}: {}; this process stops writing the run",
                        state.run_id.str(), issued.status().message());
    }
    landed(*mark, state.run_id, Status());
  }
  return issued;
}

void Kernel::landed(CommitMark& mark, const RunId& run, const Status& status) {
  if (status.ok()) {
    fault_point("append.after");
  } else {
    kernel_log().warn("a pipelined commit of run={} failed: {}; the run halts", run.str(),
                      status.message());
  }
  mark.land(status);
  {
    std::lock_guard<std::mutex> lock(held_->listener_mu);
    if (held_->listener) held_->listener();
  }
  if (held_->in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) held_->in_flight.notify_all();
}

void Kernel::note_commit_failure(RunState& state) {
  if (state.halt || !state.mark->failed()) return;
  state.halt = state.mark->failure().with_context(
      fmt::format("a commit of run '{}' failed (the ledger keeps what was committed before "
                  "it: run the run again to go on from there)",
                  state.run_id.str()));
}

Result<std::shared_ptr<const CommitMark>> Kernel::commit_mark(const TenantId& caller,
                                                              const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  std::lock_guard<std::mutex> lock(state->mu);
  return std::shared_ptr<const CommitMark>(state->mark);
}

void Kernel::set_commit_listener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(held_->listener_mu);
  held_->listener = std::move(listener);
}

}  // namespace artana::kernel
