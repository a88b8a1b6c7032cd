// PageWarmer: in the mapped mode (`--durability none`, MDB_WRITEMAP) a background thread
// makes the first store into each page the next commits will write, so the commits do not.
//
// Why: LMDB writes a commit's pages straight into the shared file mapping, and the ledger
// grows at its end (about a third of a page per model step). The first store into a page of
// a shared file mapping is a page fault: about 1 µs on bare metal, and 9–11 µs on a VM with
// shadow page tables (measured here: `docs/benchmarks.md`). The step paid that inline, ~3 µs
// of a 17 µs live step. Populating the range with madvise(MADV_POPULATE_WRITE) leaves half
// the cost: the hypervisor still fills its own entry at the first user store.
//
// Which pages: FileSpace has allocated the blocks of [floor, goal) (nothing past its
// reservation is touched: a store into a hole of a full disk raises SIGBUS), and the
// writer's current transaction allocates only below `floor`. Each warming store is an atomic
// add of zero to the page's first word: it changes no byte, and it cannot lose a concurrent
// store by another process's writer (an atomic read-modify-write on a coherent cache line).
// In this process the writer and the thread never touch the same page (advance() below).
//
// Thread-safe. The thread starts with start() (when a writer opens the ledger: not in its
// first commit, a game's first frame) or the first advance(), and stops in the destructor,
// which must run before the map is closed.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <thread>

namespace artana::kernel::ledger {

class PageWarmer {
 public:
  // `resize_guard`: held shared while a page is touched (a map resize holds it exclusively).
  PageWarmer(MDB_env* env, uint64_t page_bytes, std::shared_mutex& resize_guard);
  ~PageWarmer();
  PageWarmer(const PageWarmer&) = delete;
  PageWarmer& operator=(const PageWarmer&) = delete;

  // The writer, inside its write transaction and before it writes: it may write any page
  // below byte offset `floor`; [floor, goal) is allocated and unused. Waits (at most one page
  // touch) if the thread is touching a page below `floor`.
  void advance(uint64_t floor, uint64_t goal);
  // Starts the thread now, touching nothing until advance() asks.
  void start();
  // The map is being moved (mdb_env_set_mapsize). REQUIRES: the resize guard held
  // exclusively, so no page is being touched.
  void map_moved();
  // Pages touched so far (tests and benchmarks).
  uint64_t pages_warmed() const { return warmed_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint64_t kIdle = UINT64_MAX;
  void run();
  void start_locked();  // REQUIRES: mu_ held
  // The address LMDB mapped the file at, from a page of the main database (its header
  // starts with its page number). nullptr when it cannot be found; warming then stops.
  char* find_map();

  MDB_env* env_;
  const uint64_t page_bytes_;
  std::shared_mutex& resize_guard_;
  std::atomic<uint64_t> floor_{0};           // the writer may write below this offset
  std::atomic<uint64_t> touching_{kIdle};    // the offset being touched
  std::atomic<uint64_t> map_generation_{0};  // bumped when the map moves
  std::atomic<uint64_t> warmed_{0};

  std::mutex mu_;  // guards goal_, stopping_ and the thread's start
  std::condition_variable wake_;
  uint64_t goal_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace artana::kernel::ledger
