// PipelinedAppends: the appends a store issues without waiting for their commit
// (EventStore::append_pipelined), and the lease writes that go the same way.
//
// An append is checked and prepared on the caller's thread, its result predicted (as a held
// append's is: DeferredAppends), and its op queued for the store's commit thread behind
// every write issued before it. The caller's thread goes on at once; `on_committed` tells
// it later, from the commit thread, how the commit went.
//
// The prediction holds unless the run changes under it: the seqs follow the request's
// expected head, which the commit checks; the lease epoch is the request's, or — taking the
// lease — the one the run's record gives now, which the commit checks too (a takeover in
// between fails the append as fenced). So a wrong prediction is never committed: it fails,
// and so does every later append of the run (their expected heads are never reached).
//
// Reads of a run wait for its pipelined writes (wait_for), so a read sees every append
// issued before it. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "artana/kernel/event_store.h"
#include "ledger/group_commit.h"
#include "ledger/ledger_env.h"
#include "ledger/write_ops.h"

namespace artana::kernel::ledger {

class PipelinedAppends {
 public:
  PipelinedAppends(LedgerEnv& env, const StoreConfig& config, GroupCommit& commits)
      : env_(env), config_(config), commits_(commits) {}
  ~PipelinedAppends() { wait_all(); }  // the commit thread's callbacks use this object
  PipelinedAppends(const PipelinedAppends&) = delete;
  PipelinedAppends& operator=(const PipelinedAppends&) = delete;

  // Issues `request`: its predicted result, or why it cannot be issued (nothing queued then,
  // and `on_committed` is never called). Needs the request's expected head (or a creation).
  Result<AppendResult> issue(AppendRequest request,
                             std::function<void(const Status&)> on_committed);
  // Queues another write of `run` (a lease renewal or release) in the same order.
  void issue_op(const RunId& run, std::unique_ptr<WriteOp> op,
                std::function<void(const Status&)> on_done);
  // Returns once every pipelined write of `run` issued before has committed or failed.
  void wait_for(const RunId& run);
  // Returns once every pipelined write issued before has committed or failed.
  void wait_all();

 private:
  // The lease epoch the append will commit under, or its refusal as the commit would give it.
  Result<uint64_t> predict_lease(AppendRequest& request);
  void track(const std::string& run);
  void untrack(const std::string& run);

  LedgerEnv& env_;
  const StoreConfig& config_;
  GroupCommit& commits_;
  std::atomic<size_t> in_flight_{0};  // reads skip the lock while none is
  std::mutex mu_;
  std::condition_variable landed_;
  std::unordered_map<std::string, uint32_t> by_run_;  // run id -> writes in flight
};

}  // namespace artana::kernel::ledger
