// Kernel: the runs this kernel holds — a lease kept while a run executes here, a run loaded
// afresh for a new execution (hot reload) with its calls in flight carried over, a run let go
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

Status Kernel::reload(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> first, checked(caller, run));
  // The whole chain: after fork_on_drift the execution went on in forks, whose held states
  // carry the old execution's view (reached steps, placeholders) too.
  std::vector<std::shared_ptr<RunState>> chain;
  std::vector<uint64_t> epochs;
  for (std::shared_ptr<RunState> state = first; state;) {
    std::lock_guard<std::mutex> lock(state->mu);
    chain.push_back(state);
    epochs.push_back(state->lease_epoch);
    state = state->forked_to;
  }
  {
    std::lock_guard<std::mutex> lock(held_->mu);
    for (const auto& state : chain) held_->runs.erase(state->run_id.str());
  }
  for (size_t i = 0; i < chain.size(); ++i) {
    const std::shared_ptr<RunState>& old = chain[i];
    ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> fresh, load(old->run_id));
    std::lock_guard<std::mutex> lock(fresh->mu);
    if (fresh->lease_epoch == 0) fresh->lease_epoch = epochs[i];  // still ours
    if (!fresh->tools) fresh->tools = old->tools;
    // The calls in flight (load marked their steps in flight) finish into the fresh state —
    // their appends are the run's next — waiting there to be adopted by the new execution.
    std::lock_guard<std::mutex> held_lock(held_->mu);
    for (auto& [ticket, entry] : held_->live) {
      if (entry->state != old) continue;
      entry->state = fresh;
      entry->inherited = true;
    }
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
