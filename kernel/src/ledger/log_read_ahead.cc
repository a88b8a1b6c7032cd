#include "ledger/log_read_ahead.h"

#include "ledger/ledger_env.h"
#include "ledger/worker_stop.h"

namespace artana::kernel::ledger {

LogReadAhead::~LogReadAhead() { stop_worker(mu_, wake_, stopping_, thread_); }

void LogReadAhead::request(uint64_t position, uint64_t count) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (position >= walked_from_ && position < walked_to_) {  // partly walked already
      if (position + count <= walked_to_) return;
      count -= walked_to_ - position;
      position = walked_to_;
    }
    position_ = position;
    count_ = count;
    // Started on first use: a process that never replays a batch has no thread.
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  wake_.notify_one();
}

uint64_t LogReadAhead::entries_read() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_read_;
}

void LogReadAhead::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return stopping_ || (count_ == 0 && !walking_); });
}

void LogReadAhead::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || count_ > 0; });
    if (stopping_) break;
    const uint64_t position = position_, count = count_;
    count_ = 0;
    // One replay walks forward: the range grows; anything else starts a new one.
    if (position != walked_to_) walked_from_ = position;
    walked_to_ = position + count;
    walking_ = true;
    lock.unlock();
    const uint64_t read = walk(position, count);
    lock.lock();
    walking_ = false;
    entries_read_ += read;
    idle_.notify_all();
  }
  idle_.notify_all();
}

uint64_t LogReadAhead::walk(uint64_t position, uint64_t count) {
  auto txn = env_.begin_read();
  if (!txn.ok()) return 0;
  Cursor cursor;
  if (Cursor::open(txn->get(), env_.dbi().log, cursor) != 0) return 0;
  std::string k;
  put_u64be(k, position);
  MDB_val key = to_val(k), value;
  int rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_SET_RANGE);
  uint64_t read = 0;
  for (; rc == 0 && read < count; ++read) {
    // A read of one byte a page is what maps the page; the reader then finds it mapped.
    const auto* bytes = static_cast<const volatile unsigned char*>(value.mv_data);
    for (size_t at = 0; at < value.mv_size; at += 4096) (void)bytes[at];
    if (value.mv_size > 0) (void)bytes[value.mv_size - 1];
    rc = mdb_cursor_get(cursor.get(), &key, &value, MDB_NEXT);
  }
  return read;
}

}  // namespace artana::kernel::ledger
