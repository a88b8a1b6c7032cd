#include "ledger/group_commit.h"
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
    : env_(env), durability_(durability) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    stopping_ = true;
  }
  async_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void GroupCommit::submit(const std::vector<WriteOp*>& ops) {
  if (async_in_flight_.load(std::memory_order_acquire) > 0 &&
      std::this_thread::get_id() != committer_id_.load(std::memory_order_acquire)) {
    return submit_behind_async(ops);
  }
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

void GroupCommit::submit_behind_async(const std::vector<WriteOp*>& ops) {
  if (ops.empty()) return;
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
  } waiter;
  waiter.left = ops.size();
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    for (WriteOp* op : ops) {
      auto forward = std::make_unique<WriteOp>();
      forward->barrier = op->barrier;
      forward->bytes_hint = op->bytes_hint;
      forward->apply = [op](WriteContext& ctx) { return op->apply(ctx); };
      async_in_flight_.fetch_add(1, std::memory_order_acq_rel);
      async_queue_.push_back(AsyncItem{std::move(forward), [op, &waiter](WriteOp& done) {
                                         op->status = done.status;
                                         std::lock_guard<std::mutex> held(waiter.mu);
                                         if (--waiter.left == 0) waiter.cv.notify_one();
                                       }});
    }
    // Queued only while async ops are in flight: the committer runs and drains them.
  }
  async_cv_.notify_one();
  std::unique_lock<std::mutex> lock(waiter.mu);
  waiter.cv.wait(lock, [&] { return waiter.left == 0; });
}

void GroupCommit::submit_async(std::unique_ptr<WriteOp> op, std::function<void(WriteOp&)> on_done) {
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    async_in_flight_.fetch_add(1, std::memory_order_acq_rel);
    async_queue_.push_back(AsyncItem{std::move(op), std::move(on_done)});
    // Started on first use: a store nobody appends to asynchronously (the CLI, most hosts)
    // never pays for a thread.
    if (!committer_.joinable())
      committer_ = std::thread([this] {
        name_this_thread("artana-commit");
        committer_loop();
      });
    committer_id_.store(committer_.get_id(), std::memory_order_release);
  }
  async_cv_.notify_one();
}

void GroupCommit::committer_loop() {
  std::unique_lock<std::mutex> lock(async_mu_);
  for (;;) {
    async_cv_.wait(lock, [this] { return stopping_ || !async_queue_.empty(); });
    if (async_queue_.empty()) return;  // stopping, and everything was committed
    std::deque<AsyncItem> items;
    items.swap(async_queue_);
    lock.unlock();
    std::vector<WriteOp*> ops;
    ops.reserve(items.size());
    for (AsyncItem& item : items) ops.push_back(item.op.get());
    submit(ops);
    for (AsyncItem& item : items) {
      item.on_done(*item.op);
      async_in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    }
    lock.lock();
  }
}

}  // namespace artana::kernel::ledger
