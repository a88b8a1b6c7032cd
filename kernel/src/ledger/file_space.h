// FileSpace: keeps disk blocks allocated ahead of the pages LMDB will write next.
//
// Two reasons, by durability mode:
//  - Synced modes (full, effects) write pages with pwrite. If each commit grew the file, its
//    fdatasync would flush the data *and* a journal commit for the new size; zero-filling
//    the file ahead of the last page makes commits overwrite allocated blocks, so each sync
//    flushes data alone. The zeros are not synced on their own: the next commit's sync
//    flushes them with its pages, one journal commit for the new size either way, and a new
//    ledger's first commit waits for one sync instead of two. When the disk cannot hold even the
//    batch itself, it is refused with kDiskFull and the zeros are cut back: LMDB's own write would
//    fail halfway, and a short write reads only as EIO.
//  - `none` maps the file writable (MDB_WRITEMAP: a commit is a few memory writes, no
//    syscalls). LMDB then sizes the file to the whole map, sparse, and a store into a hole on
//    a full disk would raise SIGBUS. So before a batch, the blocks it can reach (past the last
//    page, twice its bytes plus slack) are allocated (fallocate; zeros where the filesystem
//    lacks it); if that fails the batch is refused with kDiskFull naming the file, nothing
//    is written, and what the failed allocation took is given back.
// Not thread-safe: only the writer (inside an LMDB write transaction, so no other process
// writes past the end meanwhile) calls reserve().
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>

#include "artana/kernel/status.h"

namespace artana::kernel::ledger {

class FileSpace {
 public:
  enum class Mode { kZeroFill, kMapped };
  explicit FileSpace(Mode mode) : mode_(mode) {}

  // Makes sure the blocks a batch writing about `batch_bytes` may touch are allocated.
  // `required`: refuse with kDiskFull in kZeroFill mode too (see LedgerEnv::require_space).
  Status reserve(MDB_env* env, uint64_t page_bytes, uint64_t batch_bytes, const std::string& path,
                 bool required = false);
  // After a successful reserve(): the batch writes below writer_floor(); the blocks up to
  // ready_end() are allocated (PageWarmer touches the pages between).
  uint64_t writer_floor() const { return writer_floor_; }
  uint64_t ready_end() const { return ready_end_; }

 private:
  uint64_t filled_end(int fd, uint64_t used) const;
  // Writes zeros over [from, to); returns 0, or the errno that stopped it.
  int zero_fill(int fd, uint64_t from, uint64_t to);
  // Allocates the blocks of [from, to) (fallocate, else zeros); 0 or the errno.
  int allocate(int fd, uint64_t from, uint64_t to);

  Mode mode_;
  uint64_t ready_end_ = 0;  // blocks below this offset are known to be allocated
  uint64_t writer_floor_ = 0;
};

}  // namespace artana::kernel::ledger
