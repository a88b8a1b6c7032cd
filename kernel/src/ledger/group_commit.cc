#include "ledger/group_commit.h"

#include <algorithm>
#include "ledger/worker_stop.h"

namespace artana::kernel::ledger {

// Enough ops per transaction to amortise a sync; small enough to bound one commit's latency.
constexpr size_t kMaxBatchOps = 512;
// Map growth doubles each time; this many in a row means something else is wrong.
constexpr int kMaxGrowths = 24;
// Pages an op touches beyond its bytes: copies of tree pages along each key's path.
constexpr uint64_t kOpOverheadBytes = 16 * 1024;

Status WriteContext::check(int rc, std::string_view what) {
  if (rc == MDB_MAP_FULL) map_full_ = true;
  return lmdb_status(rc, what, env_.data_path());
}

Status WriteContext::put(MDB_dbi dbi, std::string_view key, std::string_view value,
                         unsigned flags) {
  MDB_val k = to_val(key), v = to_val(value);
  ++writes_;
  return check(mdb_put(txn_, dbi, &k, &v, flags), "writing");
}

Result<std::optional<std::string>> WriteContext::insert(MDB_dbi dbi, std::string_view key,
                                                        std::string_view value) {
  MDB_val k = to_val(key), v = to_val(value);
  ++writes_;
  const int rc = mdb_put(txn_, dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == 0) return std::optional<std::string>();
  // LMDB points `v` at the stored value then; copied, as a later write may move it.
  if (rc == MDB_KEYEXIST) return std::optional<std::string>(std::string(from_val(v)));
  return check(rc, "writing");
}

Status WriteContext::update(
    MDB_dbi dbi, std::string_view key,
    const std::function<Result<std::string>(std::optional<std::string_view>)>& change) {
  Cursor cursor;  // closed on return, before the transaction ends
  int rc = Cursor::open(txn_, dbi, cursor);
  if (rc != 0) return check(rc, "opening a cursor");
  MDB_val k = to_val(key), v;
  rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_KEY);
  if (rc != 0 && rc != MDB_NOTFOUND) return check(rc, "reading");
  const bool found = rc == 0;
  ARTANA_ASSIGN_OR_RETURN(
      std::string value,
      change(found ? std::optional<std::string_view>(from_val(v)) : std::nullopt));
  k = to_val(key);
  v = to_val(value);
  ++writes_;
  return check(mdb_cursor_put(cursor.get(), &k, &v, found ? MDB_CURRENT : 0), "writing");
}

Status WriteContext::del(MDB_dbi dbi, std::string_view key, const std::string_view* value) {
  MDB_val k = to_val(key), v;
  if (value != nullptr) v = to_val(*value);
  ++writes_;
  int rc = mdb_del(txn_, dbi, &k, value != nullptr ? &v : nullptr);
  if (rc == MDB_NOTFOUND) return Status();
  return check(rc, "deleting");
}

Result<std::string> WriteContext::last_key(MDB_dbi dbi) {
  Cursor cursor;
  ARTANA_RETURN_IF_ERROR(check(Cursor::open(txn_, dbi, cursor), "opening a cursor"));
  MDB_val k, v;
  int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return std::string();
  ARTANA_RETURN_IF_ERROR(check(rc, "finding the last key"));
  return std::string(from_val(k));
}

Result<uint64_t> WriteContext::next_log_position() {
  if (next_position_ == 0) {
    ARTANA_ASSIGN_OR_RETURN(std::string last, last_key(env_.dbi().log));
    next_position_ = last.empty() ? 1 : get_u64be(last) + 1;
  }
  return next_position_++;
}

struct GroupCommit::Writer {
  const std::vector<WriteOp*>* ops;
  bool done = false;
  std::condition_variable cv;
};

GroupCommit::GroupCommit(LedgerEnv& env, Durability durability)
    : env_(env), durability_(durability) {
  // A store that syncs gets its committer now, not inside a host's tick (the first pipelined
  // append would start it there). Without syncs appends commit on the caller's thread.
  if (durability_ != Durability::kNone) start_committer();
}

void GroupCommit::start_committer() {
  if (started_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(start_mu_);
  if (committer_.joinable()) return;
  committer_ = std::thread([this] {
    name_this_thread("artana-commit");
    run_as_background();
    committer_loop();
  });
  committer_id_.store(committer_.get_id(), std::memory_order_release);
  started_.store(true, std::memory_order_release);
}

GroupCommit::~GroupCommit() {
  stopping_.store(true, std::memory_order_release);
  signal_.fetch_add(1, std::memory_order_release);
  signal_.notify_all();
  if (committer_.joinable()) committer_.join();  // it drains what was queued first
}

void GroupCommit::submit(const std::vector<WriteOp*>& ops) {
  if (async_in_flight_.load(std::memory_order_acquire) > 0 &&
      std::this_thread::get_id() != committer_id_.load(std::memory_order_acquire)) {
    return submit_behind_async(ops);
  }
  submit_now(ops);
}

void GroupCommit::submit_now(const std::vector<WriteOp*>& ops) {
  Writer self;
  self.ops = &ops;
  std::unique_lock<std::mutex> lock(mu_);
  writers_.push_back(&self);
  while (!self.done && &self != writers_.front()) self.cv.wait(lock);
  if (self.done) return;

  // Leader: take our ops and those of everyone queued behind us.
  std::vector<WriteOp*> batch;
  std::vector<Writer*> members;
  for (Writer* w : writers_) {
    if (!batch.empty() && batch.size() + w->ops->size() > kMaxBatchOps) break;
    batch.insert(batch.end(), w->ops->begin(), w->ops->end());
    members.push_back(w);
  }
  lock.unlock();
  commit_batch(batch);
  lock.lock();
  for (Writer* w : members) {
    writers_.pop_front();
    w->done = true;
    if (w != &self) w->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
}

void GroupCommit::commit_batch(std::vector<WriteOp*>& ops) {
  commit_ops(ops);
  bool barrier = false;
  for (WriteOp* op : ops) barrier = barrier || (op->barrier && op->status.ok());
  if (barrier && durability_ == Durability::kEffects) {
    // Before a side effect runs, its intent must survive a power loss too.
    Status synced = env_.sync();
    if (!synced.ok()) {
      for (WriteOp* op : ops) {
        if (op->barrier && op->status.ok()) op->status = synced;
      }
    }
  }
}

void GroupCommit::commit_ops(const std::vector<WriteOp*>& ops) {
  for (int growths = 0;; ++growths) {
    BatchOutcome outcome = run_batch_once(ops);
    if (outcome == BatchOutcome::kDone) return;
    if (outcome == BatchOutcome::kPoisoned) {
      for (WriteOp* op : ops) commit_ops({op});  // a single op is never poisoned
      return;
    }
    Status grown = growths < kMaxGrowths
                       ? env_.grow_map()
                       : Status::disk_full("{}: the map stopped growing", env_.data_path());
    if (!grown.ok()) {
      for (WriteOp* op : ops) op->status = grown;
      return;
    }
  }
}

GroupCommit::BatchOutcome GroupCommit::run_batch_once(const std::vector<WriteOp*>& ops) {
  auto txn = env_.begin_write();
  if (!txn.ok()) {
    for (WriteOp* op : ops) op->status = txn.status();
    return BatchOutcome::kDone;
  }
  uint64_t batch_bytes = 0;
  for (WriteOp* op : ops) batch_bytes += op->bytes_hint + kOpOverheadBytes;
  if (Status room = env_.reserve_space(batch_bytes); !room.ok()) {
    for (WriteOp* op : ops) op->status = room;
    return BatchOutcome::kDone;
  }
  WriteContext ctx(env_, txn->get());
  bool any_ok = false;
  for (WriteOp* op : ops) {
    const uint64_t writes_before = ctx.writes_;
    const uint64_t position_before = ctx.next_position_;
    op->status = op->apply(ctx);
    if (ctx.map_full_) return BatchOutcome::kMapFull;  // `txn` aborts on return
    if (op->status.ok()) {
      any_ok = true;
      continue;
    }
    // Refused before writing: the transaction is as it was. Failed halfway: only a fresh
    // transaction per op can keep the others' writes apart from this one's.
    if (ctx.writes_ != writes_before) {
      if (ops.size() > 1) return BatchOutcome::kPoisoned;
      return BatchOutcome::kDone;  // the only op failed: abort the transaction
    }
    ctx.next_position_ = position_before;
  }
  if (!any_ok) return BatchOutcome::kDone;
  int rc = txn->txn.commit();
  if (rc == MDB_MAP_FULL) return BatchOutcome::kMapFull;
  if (rc != 0) {
    Status failed = lmdb_status(rc, "committing", env_.data_path());
    for (WriteOp* op : ops) {
      if (op->status.ok()) op->status = failed;
    }
  }
  return BatchOutcome::kDone;
}

void GroupCommit::push_async(AsyncItem* item) {
  async_in_flight_.fetch_add(1, std::memory_order_acq_rel);
  AsyncItem* head = incoming_.load(std::memory_order_relaxed);
  do {
    item->next = head;
  } while (!incoming_.compare_exchange_weak(head, item, std::memory_order_release,
                                            std::memory_order_relaxed));
  signal_.fetch_add(1, std::memory_order_release);
  signal_.notify_one();  // a system call only when the committer sleeps
}

std::vector<std::unique_ptr<GroupCommit::AsyncItem>> GroupCommit::take_async() {
  // Taking the whole stack at once: no ABA (nothing is popped one by one).
  AsyncItem* head = incoming_.exchange(nullptr, std::memory_order_acquire);
  std::vector<std::unique_ptr<AsyncItem>> items;
  for (AsyncItem* item = head; item != nullptr;) {
    AsyncItem* next = item->next;
    items.emplace_back(item);
    item = next;
  }
  std::reverse(items.begin(), items.end());  // oldest first
  return items;
}

void GroupCommit::submit_behind_async(const std::vector<WriteOp*>& ops) {
  if (ops.empty()) return;
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
  } waiter;
  waiter.left = ops.size();
  for (WriteOp* op : ops) {
    auto item = std::make_unique<AsyncItem>();
    item->op = std::make_unique<WriteOp>();
    item->op->barrier = op->barrier;
    item->op->bytes_hint = op->bytes_hint;
    item->op->apply = [op](WriteContext& ctx) { return op->apply(ctx); };
    item->on_done = [op, &waiter](WriteOp& done) {
      op->status = done.status;
      std::lock_guard<std::mutex> held(waiter.mu);
      if (--waiter.left == 0) waiter.cv.notify_one();
    };
    push_async(item.release());
  }
  std::unique_lock<std::mutex> lock(waiter.mu);
  waiter.cv.wait(lock, [&] { return waiter.left == 0; });
}

void GroupCommit::submit_async(std::unique_ptr<WriteOp> op, std::function<void(WriteOp&)> on_done) {
  start_committer();  // for a store without syncs: on first use
  auto item = std::make_unique<AsyncItem>();
  item->op = std::move(op);
  item->on_done = std::move(on_done);
  push_async(item.release());
}

void GroupCommit::commit_items(std::vector<std::unique_ptr<AsyncItem>>& items) {
  std::vector<WriteOp*> ops;
  ops.reserve(items.size());
  for (const auto& item : items) ops.push_back(item->op.get());
  submit_now(ops);  // these are the async ops: nothing to queue behind
  for (const auto& item : items) {
    item->on_done(*item->op);
    async_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

bool GroupCommit::commit_queued_here() {
  if (incoming_.load(std::memory_order_acquire) == nullptr) return false;
  std::unique_lock<std::mutex> lock(drain_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return false;  // the committer is at it
  std::vector<std::unique_ptr<AsyncItem>> items = take_async();
  if (items.empty()) return false;
  commit_items(items);
  return true;
}

void GroupCommit::committer_loop() {
  for (;;) {
    const uint32_t seen = signal_.load(std::memory_order_acquire);
    bool took = false;
    {
      std::lock_guard<std::mutex> lock(drain_mu_);
      std::vector<std::unique_ptr<AsyncItem>> items = take_async();
      took = !items.empty();
      if (took) commit_items(items);
    }
    if (took) continue;
    if (stopping_.load(std::memory_order_acquire) &&
        incoming_.load(std::memory_order_acquire) == nullptr)
      return;                                       // everything was committed
    signal_.wait(seen, std::memory_order_acquire);  // returns once a push bumped it
  }
}

}  // namespace artana::kernel::ledger
