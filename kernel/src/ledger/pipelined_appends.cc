#include "ledger/pipelined_appends.h"

#include <utility>

#include "ledger/ledger_reader.h"

namespace artana::kernel::ledger {

Result<uint64_t> PipelinedAppends::predict_lease(AppendRequest& request) {
  if (request.create) {
    // A new run's first append takes its first lease. An id already taken fails here, not
    // later: the caller may then execute the existing run instead.
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_.begin_read());
    LedgerReader reader(env_, txn.get());
    auto existing = reader.run_by_id(request.run_id.str());
    if (existing.ok()) {
      return Status::already_exists("run '{}' already exists", request.run_id.str());
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    return uint64_t{1};
  }
  if (request.lease_epoch != 0) return request.lease_epoch;  // checked by the commit
  // Taking the lease (or finding it ours): predicted from the run's record once this
  // process's own writes to it have landed (a release still queued would change it).
  wait_for(request.run_id);
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_.begin_read());
  LedgerReader reader(env_, txn.get());
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(request.run_id.str()));
  ARTANA_ASSIGN_OR_RETURN(bool takes, lease_takeover(request, record, config_.clock_us()));
  // The commit must give the epoch predicted from this read, or the results handed out
  // already would name the wrong one.
  const uint64_t predicted = takes ? record.lease.epoch + 1 : record.lease.epoch;
  request.in_txn = [inner = std::move(request.in_txn), predicted](AppendTxn& append) -> Status {
    const Lease& lease = append.run().lease;
    if (lease.epoch != predicted) {
      return Status::fenced("run '{}': its lease went to epoch {} while this append was queued",
                            append.run().header.run_id.str(), lease.epoch);
    }
    return inner ? inner(append) : Status();
  };
  return predicted;
}

Result<AppendResult> PipelinedAppends::issue(AppendRequest request,
                                             std::function<void(const Status&)> on_committed) {
  ARTANA_RETURN_IF_ERROR(check_append_request(request));
  if (!request.expected_head_seq && !request.create) {
    return Status::invalid_argument("a pipelined append to '{}' needs its expected head",
                                    request.run_id.str());
  }
  request.deferrable = false;
  ARTANA_ASSIGN_OR_RETURN(uint64_t epoch, predict_lease(request));
  ARTANA_ASSIGN_OR_RETURN(PreparedAppend prepared, prepare_append(config_, request));
  struct Pending {
    AppendRequest request;
    PreparedAppend prepared;
    AppendResult committed;  // what the commit computed (nobody reads it)
  };
  auto pending = std::make_shared<Pending>();
  pending->request = std::move(request);
  pending->prepared = std::move(prepared);
  AppendResult predicted = predicted_append(pending->request, pending->prepared,
                                            pending->request.expected_head_seq.value_or(0), epoch);
  auto op = std::make_unique<WriteOp>();
  op->barrier = pending->request.barrier;
  op->bytes_hint = pending->prepared.bytes();
  op->apply = [this, pending](WriteContext& ctx) {
    return apply_append(ctx, config_, pending->request, pending->prepared, pending->committed);
  };
  const RunId run = pending->request.run_id;
  issue_op(run, std::move(op), std::move(on_committed));
  return predicted;
}

void PipelinedAppends::issue_op(const RunId& run, std::unique_ptr<WriteOp> op,
                                std::function<void(const Status&)> on_done) {
  track(run.str());
  commits_.submit_async(std::move(op),
                        [this, id = run.str(), done = std::move(on_done)](WriteOp& finished) {
                          // The caller learns first: a reader released below then finds
                          // what the commit's failure changed.
                          if (done) done(finished.status);
                          untrack(id);
                        });
}

void PipelinedAppends::track(const std::string& run) {
  std::lock_guard<std::mutex> lock(mu_);
  ++by_run_[run];
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
}

void PipelinedAppends::untrack(const std::string& run) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_run_.find(run);
  if (it != by_run_.end() && --it->second == 0) by_run_.erase(it);
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  // Under the lock: once a waiter (the destructor) sees nothing in flight, this object may
  // go. Without waiters the broadcast makes no system call.
  landed_.notify_all();
}

void PipelinedAppends::wait_for(const RunId& run) {
  if (in_flight_.load(std::memory_order_acquire) == 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return by_run_.find(run.str()) == by_run_.end(); });
}

void PipelinedAppends::wait_all() {
  if (in_flight_.load(std::memory_order_acquire) == 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  landed_.wait(lock, [&] { return by_run_.empty(); });
}

}  // namespace artana::kernel::ledger
