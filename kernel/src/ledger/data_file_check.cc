#include "ledger/data_file_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

namespace artana::kernel::ledger {
namespace {

// LMDB's on-disk meta page (lmdb/mdb.c: a 16-byte page header, then MDB_meta).
constexpr uint32_t kMagic = 0xBEEFC0DE;
constexpr size_t kMagicAt = 16;
constexpr size_t kPageSizeAt = 40;   // mm_dbs[FREE_DBI].md_pad holds the page size
constexpr size_t kFreeRootAt = 80;   // mm_dbs[FREE_DBI].md_root
constexpr size_t kMainRootAt = 128;  // mm_dbs[MAIN_DBI].md_root
constexpr size_t kTxnIdAt = 144;
constexpr size_t kMetaBytes = kTxnIdAt + 8;
constexpr uint64_t kNoPage = ~uint64_t{0};  // P_INVALID: an empty tree

struct Meta {
  uint64_t page_bytes;
  uint64_t roots[2];
  uint64_t txn_id;
};

template <typename T>
T read_at(const unsigned char* bytes, size_t at) {
  T value;
  std::memcpy(&value, bytes + at, sizeof value);
  return value;
}

std::optional<Meta> read_meta(int fd, off_t offset) {
  unsigned char bytes[kMetaBytes];
  if (::pread(fd, bytes, sizeof bytes, offset) != static_cast<ssize_t>(sizeof bytes)) {
    return std::nullopt;
  }
  if (read_at<uint32_t>(bytes, kMagicAt) != kMagic) return std::nullopt;
  return Meta{read_at<uint32_t>(bytes, kPageSizeAt),
              {read_at<uint64_t>(bytes, kFreeRootAt), read_at<uint64_t>(bytes, kMainRootAt)},
              read_at<uint64_t>(bytes, kTxnIdAt)};
}

bool plausible_page_size(uint64_t bytes) { return bytes >= 512 && bytes <= 65536; }

}  // namespace

// Only what always holds is checked. The file may end before the meta's last page (pages
// allocated and freed in one transaction are never written: LMDB's own copy allows for it),
// but a tree's root was written before the meta naming it.
Status check_data_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status();  // missing or unreadable: LMDB says which
  // The meta pages first, then the size: the file only grows, so a commit by another process
  // in between cannot make a whole file look short.
  std::optional<Meta> first = read_meta(fd, 0), second;
  if (first && plausible_page_size(first->page_bytes)) {
    second = read_meta(fd, static_cast<off_t>(first->page_bytes));
  }
  struct stat st;
  const bool sized = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!sized || st.st_size == 0) return Status();
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < kMetaBytes) {
    return Status::corruption(
        "{} is truncated: {} bytes, shorter than its header page; restore it from a backup", path,
        size);
  }
  if (!first || !plausible_page_size(first->page_bytes)) return Status();  // LMDB's to refuse
  if (!second) {
    if (size >= 2 * first->page_bytes) return Status();  // a damaged second meta: LMDB's
    return Status::corruption(
        "{} is truncated: {} bytes, shorter than its two {}-byte header pages; restore it from "
        "a backup",
        path, size, first->page_bytes);
  }
  const Meta& newest = second->txn_id > first->txn_id ? *second : *first;
  for (uint64_t root : newest.roots) {
    if (root == kNoPage) continue;
    const uint64_t needed = (root + 1) * first->page_bytes;
    if (size < needed) {
      return Status::corruption(
          "{} is truncated: {} bytes, but a tree's root is page {}, which ends at {} bytes; "
          "restore it from a backup",
          path, size, root, needed);
    }
  }
  return Status();
}

}  // namespace artana::kernel::ledger
