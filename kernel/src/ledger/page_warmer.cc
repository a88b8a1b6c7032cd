#include "ledger/page_warmer.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "ledger/lmdb_layout.h"
#include "ledger/worker_stop.h"

namespace artana::kernel::ledger {
namespace {

using lmdb_layout::read_at;

// Pages touched per hold of the resize guard: short, so a resize never waits long.
constexpr int kPagesPerHold = 16;

}  // namespace

PageWarmer::PageWarmer(MDB_env* env, uint64_t page_bytes, std::shared_mutex& resize_guard)
    : env_(env), page_bytes_(page_bytes), resize_guard_(resize_guard) {}

PageWarmer::~PageWarmer() { stop_worker(mu_, wake_, stopping_, thread_); }

void PageWarmer::advance(uint64_t floor, uint64_t goal) {
  floor = (floor + page_bytes_ - 1) / page_bytes_ * page_bytes_;
  floor_.store(std::max(floor, floor_.load(std::memory_order_relaxed)), std::memory_order_seq_cst);
  // Either the thread sees the new floor before it touches a page below it, or this sees
  // that page being touched and waits for it (both sides store, then load, sequentially
  // consistent): the writer never stores into a page the thread is touching.
  while (touching_.load(std::memory_order_seq_cst) < floor) std::this_thread::yield();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (goal <= goal_ || stopping_) return;
    goal_ = goal;
    start_locked();
  }
  wake_.notify_one();
}

void PageWarmer::start() {
  std::lock_guard<std::mutex> lock(mu_);
  start_locked();
}

void PageWarmer::start_locked() {
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    name_this_thread("artana-warmer");
    run_as_background();  // its wake-up must not preempt the committing thread
    run();
  });
}

void PageWarmer::map_moved() { map_generation_.fetch_add(1, std::memory_order_seq_cst); }

void PageWarmer::run() {
  char* map = nullptr;
  uint64_t generation = 0;
  uint64_t next = 0;  // the next offset to touch
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock,
               [&] { return stopping_ || goal_ >= std::max(next, floor_.load()) + page_bytes_; });
    if (stopping_) return;
    const uint64_t goal = goal_;
    lock.unlock();
    bool more = true;
    while (more) {
      std::shared_lock<std::shared_mutex> guard(resize_guard_);
      const uint64_t now = map_generation_.load(std::memory_order_seq_cst);
      if (map == nullptr || now != generation) {
        generation = now;
        map = find_map();
        if (map == nullptr) {
          // Pages of another size than the system's: nothing to warm; the commits fault
          // their pages in themselves. Otherwise (a transaction could not begin) try again at
          // the next advance.
          if (page_bytes_ != static_cast<uint64_t>(::sysconf(_SC_PAGESIZE))) return;
          next = std::max(next, goal);
          break;
        }
      }
      for (int i = 0; i < kPagesPerHold; ++i) {
        const uint64_t at = std::max(next, floor_.load(std::memory_order_seq_cst));
        if (at + page_bytes_ > goal) {
          more = false;
          break;
        }
        touching_.store(at, std::memory_order_seq_cst);
        if (at < floor_.load(std::memory_order_seq_cst)) {  // the writer moved past it
          touching_.store(kIdle, std::memory_order_seq_cst);
          continue;
        }
        __atomic_fetch_add(reinterpret_cast<uint64_t*>(map + at), 0, __ATOMIC_RELAXED);
        touching_.store(kIdle, std::memory_order_seq_cst);
        warmed_.fetch_add(1, std::memory_order_relaxed);
        next = at + page_bytes_;
      }
    }
    lock.lock();
  }
}

char* PageWarmer::find_map() {
  // The page arithmetic below needs LMDB's pages to be the system's pages.
  if (page_bytes_ != static_cast<uint64_t>(::sysconf(_SC_PAGESIZE))) return nullptr;
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return nullptr;
  char* map = nullptr;
  MDB_dbi main = 0;
  MDB_cursor* cursor = nullptr;
  // A read transaction's values point into the map (every named database has a record in
  // the main one, so it has a page).
  if (mdb_dbi_open(txn, nullptr, 0, &main) == 0 && mdb_cursor_open(txn, main, &cursor) == 0) {
    MDB_val key, value;
    MDB_envinfo info;
    if (mdb_cursor_get(cursor, &key, &value, MDB_FIRST) == 0 && mdb_env_info(env_, &info) == 0) {
      const uintptr_t at = reinterpret_cast<uintptr_t>(value.mv_data);
      const uintptr_t page = at & ~static_cast<uintptr_t>(page_bytes_ - 1);
      const auto pgno = read_at<uint64_t>(reinterpret_cast<const void*>(page), 0);
      if (pgno <= info.me_last_pgno && page >= pgno * page_bytes_) {
        char* base = reinterpret_cast<char*>(page - pgno * page_bytes_);
        // Page 0 is a meta page: its flags and magic confirm the address.
        if (read_at<uint32_t>(base, lmdb_layout::kMagicAt) == lmdb_layout::kMagic &&
            (read_at<uint16_t>(base, lmdb_layout::kFlagsAt) & lmdb_layout::kMeta) != 0) {
          map = base;
        }
      }
    }
    if (cursor != nullptr) mdb_cursor_close(cursor);
  }
  mdb_txn_abort(txn);
  return map;
}

}  // namespace artana::kernel::ledger
