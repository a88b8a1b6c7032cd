// Kernel: the runs this kernel holds — a lease kept while a run executes here, a run's view
// made anew for a new execution (hot reload) with its calls in flight carried over, a run let go
// (its lease released behind its appends).
#include "artana/kernel/kernel.h"
#include "kernel/step_machine.h"
#include "kernel_log.h"

namespace artana::kernel {

Status Kernel::renew_lease(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, run));
  RunState& state = *active_run.state;
  if (state.lease_epoch == 0) return Status();
  if (!pipelined_) return store_.renew_lease(state.run_id, state.lease_epoch);
  // Without waiting: a renewal that finds the run taken over fails the mark, and the run's
  // next step or renewal says so.
  if (state.mark->failed()) return state.mark->failure();
  std::shared_ptr<CommitMark> mark = state.mark;
  count_pipelined(*mark);
  store_.renew_lease_pipelined(
      state.run_id, state.lease_epoch,
      [this, mark, run = state.run_id](const Status& renewed) { landed(*mark, run, renewed); });
  return Status();
}

Status Kernel::reload(const TenantId& caller, const RunId& run, bool read_ahead) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> first, checked(caller, run));
  // The whole chain: after fork_on_drift the execution went on in forks, whose states carry
  // the old execution's view (reached steps, placeholders) too. Each is made anew in place,
  // from memory: the ledger holds nothing the state does not (every append is folded into
  // it), and the state's lock, lease and commit mark stay what the appends in flight use.
  for (std::shared_ptr<RunState> state = first; state;) {
    std::unique_lock<std::mutex> lock(state->mu);
    state->begin_execution();
    {
      // The calls in flight finish into the state as before, waiting there to be adopted by
      // the new execution.
      std::lock_guard<std::mutex> held_lock(held_->mu);
      for (uint64_t ticket : held_->live.of_run(state->run_id))
        held_->live.find(ticket)->inherited = true;
    }
    // As after a load: a side effect's call that no execution holds any more has an unknown
    // outcome (a draining execution's calls are still in flight: not these).
    Status settled = settle_unknown_outcomes(*state);
    if (!settled.ok() && settled.code() != StatusCode::kLeaseHeld) return settled;
    // Read while the host readies the new execution: the replay takes it when it begins.
    if (read_ahead && state == first) prefetch_replay(*state);
    std::shared_ptr<RunState> next = state->forked_to;
    lock.unlock();
    state = std::move(next);
  }
  return Status();
}

Status Kernel::unload(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  {
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->lease_epoch != 0 && pipelined_) {
      // Behind the run's appends, without waiting; a release that fails leaves the lease to
      // expire.
      std::shared_ptr<CommitMark> mark = state->mark;
      count_pipelined(*mark);
      store_.release_lease_pipelined(run, state->lease_epoch,
                                     [this, mark, run](const Status& released) {
                                       if (!released.ok()) {
                                         kernel_log().warn("lease release of run={} failed: {}",
                                                           run.str(), released.message());
                                       }
                                       landed(*mark, run, Status());
                                     });
    } else if (state->lease_epoch != 0) {
      ARTANA_RETURN_IF_ERROR(store_.release_lease(run, state->lease_epoch));
    }
  }
  std::lock_guard<std::mutex> lock(held_->mu);
  held_->runs.erase(run.str());
  return Status();
}

}  // namespace artana::kernel
