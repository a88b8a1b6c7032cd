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
constexpr size_t kPageSizeAt = 40;  // mm_dbs[FREE_DBI].md_pad holds the page size
constexpr size_t kLastPageAt = 136;
constexpr size_t kTxnIdAt = 144;
constexpr size_t kMetaBytes = kTxnIdAt + 8;

struct Meta {
  uint64_t page_bytes;
  uint64_t last_page;
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
  return Meta{read_at<uint32_t>(bytes, kPageSizeAt), read_at<uint64_t>(bytes, kLastPageAt),
              read_at<uint64_t>(bytes, kTxnIdAt)};
}

}  // namespace

Status check_data_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status();  // missing or unreadable: LMDB says which
  struct stat st;
  std::optional<Meta> first, second;
  const bool sized = ::fstat(fd, &st) == 0;
  if (sized && st.st_size > 0) {
    first = read_meta(fd, 0);
    if (first && first->page_bytes >= 512 && first->page_bytes <= 65536) {
      second = read_meta(fd, static_cast<off_t>(first->page_bytes));
    }
  }
  ::close(fd);
  if (sized && st.st_size > 0 && static_cast<uint64_t>(st.st_size) < kMetaBytes) {
    return Status::corruption(
        "{} is truncated: {} bytes, shorter than its header page; restore it from a backup", path,
        st.st_size);
  }
  if (!sized || st.st_size == 0 || !first) return Status();
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (first->page_bytes < 512 || first->page_bytes > 65536) return Status();
  if (size < 2 * first->page_bytes || !second) {
    return Status::corruption(
        "{} is truncated: {} bytes, shorter than its two {}-byte header pages; restore it from "
        "a backup",
        path, size, first->page_bytes);
  }
  const Meta& newest = second->txn_id > first->txn_id ? *second : *first;
  const uint64_t needed = (newest.last_page + 1) * first->page_bytes;
  if (size < needed) {
    return Status::corruption(
        "{} is truncated: {} bytes, but its pages in use end at {} bytes (page {}); restore it "
        "from a backup",
        path, size, needed, newest.last_page);
  }
  return Status();
}

}  // namespace artana::kernel::ledger
