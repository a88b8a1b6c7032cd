// DeferredAppends: the appends a store holds back (AppendRequest::deferrable) until it next
// commits or reads, so a run's effect-free events share its next transaction instead of
// each paying for one.
//
// Why that is safe: a deferrable append is one a re-execution records again (a summary, an
// artifact write). If the process dies before the commit, the run's next execution replays
// up to the last committed step and records the lost events then, with the same values. An
// effect never runs before them: its append is not deferrable, so it commits them first,
// in order, in its own transaction. Readers in this process see them (every read commits
// first); other processes see them once committed.
//
// What the caller gets back at once is the result it would get from the commit, minus what
// only the transaction knows (hashes, timestamps, event ids): seqs follow the request's
// expected head, and the payloads and index entries are the ones prepared.
//
// Thread-safe. commit() takes the held ops under one mutex until they are committed, so the
// ops of a run commit in the order they were added even when several threads write.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "artana/kernel/event_store.h"
#include "ledger/group_commit.h"
#include "ledger/write_ops.h"

namespace artana::kernel::ledger {

class DeferredAppends {
 public:
  struct Op {
    AppendRequest request;
    PreparedAppend prepared;
    AppendResult committed;  // what the commit computed (not handed to anyone)
  };

  // Whether `request` may be held: it must commit with nothing but its events (no lease to
  // take, no status, sync, callback, blob or new run) and know the head it follows.
  static bool holdable(const AppendRequest& request);

  // The result the commit of `op` will have, as far as it is known now: its events' run,
  // seqs, types and payloads (moved out of the request), its index entries (copied: the
  // commit needs them too) and the lease epoch.
  static AppendResult predicted(Op& op);

  // Holds `op`; true when what is held exceeds the bounds and should be committed now.
  bool add(std::unique_ptr<Op> op);
  bool empty() const { return held_count_.load(std::memory_order_acquire) == 0; }

  // Submits `own` (may be empty) to `commits` after everything held, in one batch: a run's
  // held events commit before anything else it writes. A held op that fails is noted for
  // its run (failed()). The store's every write goes through here.
  void commit(GroupCommit& commits, const StoreConfig& config, const std::vector<WriteOp*>& own);

  // A held op whose commit failed: its run's next append reports it (once).
  void failed(const RunId& run, Status status);
  Status take_failure(const RunId& run);

 private:
  // Everything held, in order, consecutive appends to one run merged into one op (their
  // run record, totals and step records are then read and written once).
  std::vector<std::unique_ptr<Op>> take();

  static constexpr size_t kMaxHeldOps = 64;
  static constexpr uint64_t kMaxHeldBytes = uint64_t{1} << 20;

  std::mutex commit_mu_;
  std::mutex mu_;  // guards the fields below
  std::vector<std::unique_ptr<Op>> held_;
  uint64_t held_bytes_ = 0;
  std::atomic<size_t> held_count_{0};
  std::map<std::string, Status> failures_;  // by run id
};

}  // namespace artana::kernel::ledger
