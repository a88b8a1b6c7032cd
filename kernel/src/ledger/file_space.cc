#include "ledger/file_space.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace artana::kernel::ledger {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;
// The least a reservation fills ahead.
constexpr uint64_t kFirstStepBytes = 128 * 1024;

// A commit touches more pages than its bytes: copies of the tree pages on each key's path,
// splits, the free list. In the mapped mode, where running short means SIGBUS, twice the
// bytes plus a slack covers any batch GroupCommit forms. The slack grows with the file (its
// free list and trees do) between these bounds: a fixed 4 MiB made a new ledger impossible
// on a small filesystem.
constexpr uint64_t kMappedSlackMinBytes = 256 * 1024;
constexpr uint64_t kMappedSlackMaxBytes = 4 * kMiB;
// A required reservation in pwrite mode covers one known write (a blob): its bytes, plus the
// tree and free-list pages its commit copies — a few per database on the path, 32 pages is
// several times what any one-blob commit copies. (1 MiB here made a new ledger's first
// script write and sync a megabyte of zeros.)
constexpr uint64_t kRequiredSlackBytes = 128 * 1024;

}  // namespace

Status FileSpace::reserve(MDB_env* env, uint64_t page_bytes, uint64_t batch_bytes,
                          const std::string& path, bool required) {
  MDB_envinfo info;
  int rc = mdb_env_info(env, &info);
  if (rc != 0)
    return Status::internal("{}: reading the environment info: {}", path, mdb_strerror(rc));
  const uint64_t used = (static_cast<uint64_t>(info.me_last_pgno) + 1) * page_bytes;
  const bool mapped = mode_ == Mode::kMapped;
  const uint64_t slack =
      std::clamp<uint64_t>(used / 16, kMappedSlackMinBytes, kMappedSlackMaxBytes);
  const uint64_t ahead = mapped     ? 2 * batch_bytes + slack
                         : required ? batch_bytes + kRequiredSlackBytes
                                    : 2 * batch_bytes;
  const uint64_t needed = std::min<uint64_t>(used + ahead, info.me_mapsize);
  writer_floor_ = needed;
  if (ready_end_ >= needed) return Status();
  int fd = -1;
  rc = mdb_env_get_fd(env, &fd);
  if (rc != 0) return Status::internal("{}: no file descriptor: {}", path, mdb_strerror(rc));
  uint64_t end = filled_end(fd, used);
  if (end >= needed) {
    ready_end_ = end;
    return Status();
  }
  // Fill well ahead, a step that grows with the file (1/8 of it), so the cost is O(1) per
  // byte appended; small at first, so a new ledger's first commit does not wait for
  // megabytes of zeros.
  // Past what this commit needs: the next commits then find room without a system call.
  const uint64_t step = std::clamp<uint64_t>(used / 8, kFirstStepBytes, 64 * kMiB);
  const uint64_t target = std::min<uint64_t>(needed + step, info.me_mapsize);
  int err = mapped ? allocate(fd, end, target) : zero_fill(fd, end, target);
  // Nearly full: what this commit needs may still fit (zero_fill stops where the disk did).
  if (err != 0 && mapped && target > needed) err = allocate(fd, end, needed);
  if (ready_end_ >= needed) return Status();
  // pwrite mode: what could not be filled may still be written if the batch is smaller than
  // the 2x estimate; refuse only when even the batch itself cannot fit (LMDB's own write
  // would then fail halfway and say only EIO, a short write).
  if (mode_ == Mode::kZeroFill && !required && ready_end_ >= used + batch_bytes) return Status();
  // Refused: give back what a failed fallocate or zero fill allocated past the filled end
  // (LMDB has nothing past its last page), so a refused commit never leaves the disk full.
  if (mapped) {
    ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(end),
                static_cast<off_t>(target - end));
  } else if (ready_end_ > end && ::ftruncate(fd, static_cast<off_t>(end)) != 0) {
    return Status::disk_full(
        "{}: no room for the next commit, and the zeros written ahead "
        "could not be cut back: {}",
        path, std::strerror(errno));
  }
  ready_end_ = end;
  // Mapped: the batch could touch a hole on a full disk. Required: LMDB's own write would
  // fail halfway and say only EIO (a short write). Refuse it before it writes.
  return Status::disk_full(
      "{}: no room for the next commit ({} bytes past the last page could not be allocated: "
      "{}); free disk space and retry — nothing was written",
      path, needed - ready_end_, std::strerror(err != 0 ? err : ENOSPC));
}

uint64_t FileSpace::filled_end(int fd, uint64_t used) const {
  if (mode_ == Mode::kZeroFill) {
    // pwrite grows the file, so its size is how far it is filled (another process may have
    // filled it further).
    struct stat st;
    return ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  // Mapped: the file is as long as the map, holes included; the first hole at or after the
  // last page is where allocated blocks end.
  off_t hole = ::lseek(fd, static_cast<off_t>(used), SEEK_HOLE);
  uint64_t end = hole < 0 ? used : static_cast<uint64_t>(hole);
  return std::max(end, ready_end_);
}

int FileSpace::allocate(int fd, uint64_t from, uint64_t to) {
  // Mapped: nothing is synced, so an allocated-but-unwritten block costs no journal flush
  // when first written; fallocate reserves the blocks without writing them. Zeros where the
  // filesystem has no fallocate.
  if (::fallocate(fd, 0, static_cast<off_t>(from), static_cast<off_t>(to - from)) == 0) {
    ready_end_ = to;
    return 0;
  }
  if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG) return errno;
  return zero_fill(fd, from, to);
}

int FileSpace::zero_fill(int fd, uint64_t from, uint64_t to) {
  // Real zeros, not fallocate: on ext4 an fallocated (unwritten) block is converted on its
  // first write, which costs a journal update each time, in a sync or a page fault.
  // One zero page, named once per page of each write: reading a 256 KiB source buffer
  // faulted its pages in on every new ledger (a one-step run: 154 -> 143 faults without it,
  // each several microseconds on a VM).
  alignas(4096) static const char zero_page[4096] = {};
  constexpr uint64_t kBlock = sizeof zero_page;
  constexpr size_t kPagesPerWrite = 256;  // 1 MiB a call, well under IOV_MAX
  static const std::array<iovec, kPagesPerWrite> pages = [] {
    std::array<iovec, kPagesPerWrite> all;
    all.fill(iovec{const_cast<char*>(zero_page), kBlock});
    return all;
  }();
  uint64_t end = from / kBlock * kBlock;
  while (end < to) {
    // Whole pages together; a last part-page (the end need not be page aligned) alone.
    const uint64_t whole = std::min<uint64_t>(kPagesPerWrite, (to - end) / kBlock);
    ssize_t wrote =
        whole > 0 ? ::pwritev(fd, pages.data(), static_cast<int>(whole), static_cast<off_t>(end))
                  : ::pwrite(fd, zero_page, static_cast<size_t>(to - end), static_cast<off_t>(end));
    if (wrote <= 0) {
      ready_end_ = std::max(ready_end_, end);
      return wrote < 0 ? errno : ENOSPC;  // in pwrite mode LMDB reports it when it matters
    }
    end += static_cast<uint64_t>(wrote);
  }
  ready_end_ = end;
  return 0;
}

}  // namespace artana::kernel::ledger
