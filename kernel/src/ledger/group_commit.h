// GroupCommit: one LMDB write transaction carries the writes of every thread waiting.
//
// Leader/follower, as LevelDB's write queue (db/db_impl.cc DBImpl::Write): a writer queues
// itself; the one at the front becomes leader, commits the ops of everyone queued behind it in
// one transaction, wakes them, and hands leadership to the next waiter. No thread hand-off
// on the fast path: an uncontended writer commits its own ops.
//
// The ops of a batch share one transaction, without nested transactions (each costs a copy
// of the dirty-page list, and LMDB refuses them with MDB_WRITEMAP). That is safe because of
// one rule every op keeps: it checks everything before its first write, so an op that is
// refused has written nothing and the others commit. An op that fails after writing (LMDB
// itself failing: EIO, MDB_TXN_FULL) poisons the transaction; the batch is then aborted and
// redone one op per transaction, so only the failing op fails. MDB_MAP_FULL aborts the
// batch, grows the map and redoes it: ops must be repeatable.
//
// append_async's ops go to a committer thread that joins the same queue, so the caller's
// thread never waits for a sync. Writes commit in the order they were issued: while async
// ops are queued or committing, a synchronous submit queues behind them and waits (a run's
// lease release must not overtake its pipelined appends). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "artana/kernel/event_store.h"
#include "ledger/ledger_env.h"

namespace artana::kernel::ledger {

// What an op sees: the transaction and checked put/get/del helpers that note MDB_MAP_FULL.
class WriteContext {
 public:
  WriteContext(LedgerEnv& env, MDB_txn* txn) : env_(env), txn_(txn) {}
  LedgerEnv& env() const { return env_; }
  MDB_txn* txn() const { return txn_; }
  bool map_full() const { return map_full_; }

  // Every write counts itself, so GroupCommit can tell an op refused before writing from one
  // that failed halfway.
  Status put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0);
  Status del(MDB_dbi dbi, std::string_view key, const std::string_view* value = nullptr);
  // Reads `key` of `dbi` and writes what `change` makes of it (its argument: the stored
  // value, or nullopt when the key is absent) with one descent of the tree: the cursor that
  // found the entry rewrites it in place.
  Status update(MDB_dbi dbi, std::string_view key,
                const std::function<Result<std::string>(std::optional<std::string_view>)>& change);
  // Writes `value` at `key` unless the key is present, with one descent either way: nullopt
  // when it wrote, else the stored value (and nothing written). For an entry that is usually
  // new: update() would descend twice for one (once to find it absent, once to write).
  Result<std::optional<std::string>> insert(MDB_dbi dbi, std::string_view key,
                                            std::string_view value);
  // The last key of `dbi`, or empty when it has none.
  Result<std::string> last_key(MDB_dbi dbi);
  // Reserves the next log position for this transaction.
  Result<uint64_t> next_log_position();

 private:
  friend class GroupCommit;
  Status check(int rc, std::string_view what);

  LedgerEnv& env_;
  MDB_txn* txn_;
  bool map_full_ = false;
  uint64_t writes_ = 0;
  uint64_t next_position_ = 0;  // 0: not read yet in this transaction
};

struct WriteOp {
  // Runs inside the batch's transaction; may run more than once (after map growth).
  std::function<Status(WriteContext&)> apply;
  bool barrier = false;     // kEffects: sync fully before this op is reported done
  uint64_t bytes_hint = 0;  // about how many bytes it writes (FileSpace reserves room)
  Status status;            // set when done
};

class GroupCommit {
 public:
  GroupCommit(LedgerEnv& env, Durability durability);
  ~GroupCommit();  // drains pending async ops, then stops the committer thread (if started)
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Applies `ops` (each all-or-nothing) and returns once they are committed (and synced as
  // the durability mode requires); each op's status says how it went.
  void submit(const std::vector<WriteOp*>& ops);
  // The same from the committer thread; `on_done` runs there afterwards.
  void submit_async(std::unique_ptr<WriteOp> op, std::function<void(WriteOp&)> on_done);
  // Commits the async ops queued now on the calling thread (their on_done run here), unless
  // the committer is at it: a thread with nothing else to do commits what it queued rather
  // than waking the committer and sleeping until it is done. True when it committed some.
  bool commit_queued_here();

 private:
  void start_committer();
  // submit()'s commit, in the writers' queue, without looking at the async ops.
  void submit_now(const std::vector<WriteOp*>& ops);
  // submit() while async ops are in flight: `ops` join the committer's queue, in order.
  void submit_behind_async(const std::vector<WriteOp*>& ops);
  struct Writer;
  void commit_batch(std::vector<WriteOp*>& ops);
  enum class BatchOutcome { kDone, kMapFull, kPoisoned };
  void commit_ops(const std::vector<WriteOp*>& ops);
  BatchOutcome run_batch_once(const std::vector<WriteOp*>& ops);
  void committer_loop();

  LedgerEnv& env_;
  Durability durability_;

  std::mutex mu_;
  std::deque<Writer*> writers_;

  // The async queue takes no lock: a producer (a host's ticking thread) never waits for the
  // committer to let go of one. Producers push onto a stack; the committer takes it whole
  // and reverses it, so ops commit in the order they were pushed.
  struct AsyncItem {
    std::unique_ptr<WriteOp> op;
    std::function<void(WriteOp&)> on_done;
    AsyncItem* next = nullptr;
  };
  void push_async(AsyncItem* item);
  std::vector<std::unique_ptr<AsyncItem>> take_async();
  std::atomic<AsyncItem*> incoming_{nullptr};
  std::atomic<uint32_t> signal_{
      0};  // bumped after each push and at stop: the committer waits on it
  std::atomic<bool> stopping_{false};
  // Held from taking async ops to their on_done: batches commit in the order they were
  // taken, whichever thread commits them.
  std::mutex drain_mu_;
  // Commits `items` (taken under drain_mu_) and runs their on_done.
  void commit_items(std::vector<std::unique_ptr<AsyncItem>>& items);
  std::atomic<size_t> async_in_flight_{0};  // queued or committing, until their on_done ran
  std::atomic<std::thread::id> committer_id_{};
  std::atomic<bool> started_{false};
  std::mutex start_mu_;    // starting the committer
  std::thread committer_;  // started with a store that syncs, else by the first submit_async
};

}  // namespace artana::kernel::ledger
