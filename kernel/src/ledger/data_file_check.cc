#include "ledger/data_file_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "ledger/lmdb_layout.h"

namespace artana::kernel::ledger {
namespace {

using namespace lmdb_layout;  // LMDB's page and meta layout

struct Meta {
  uint64_t page_bytes;
  uint64_t roots[2];
  uint64_t last_page;
  uint64_t txn_id;
};

std::optional<Meta> read_meta(int fd, off_t offset) {
  unsigned char bytes[kMetaBytes];
  if (::pread(fd, bytes, sizeof bytes, offset) != static_cast<ssize_t>(sizeof bytes)) {
    return std::nullopt;
  }
  if (read_at<uint32_t>(bytes, kMagicAt) != kMagic) return std::nullopt;
  return Meta{read_at<uint32_t>(bytes, kPageSizeAt),
              {read_at<uint64_t>(bytes, kFreeRootAt), read_at<uint64_t>(bytes, kMainRootAt)},
              read_at<uint64_t>(bytes, kLastPageAt),
              read_at<uint64_t>(bytes, kTxnIdAt)};
}

bool plausible_page_size(uint64_t bytes) { return bytes >= 512 && bytes <= 65536; }

// The first page the trees reach (from `roots`, through branches, named and duplicate
// sub-databases, and overflow runs) that ends past `file_bytes`, or kNoPage. Reads with
// pread, never through a map; each page once. Pages a damaged node names beyond the meta's
// last page are left to LMDB, which reports them.
uint64_t first_page_past_end(int fd, const Meta& meta, uint64_t file_bytes) {
  const uint64_t page = meta.page_bytes;
  std::vector<unsigned char> bytes(page);
  std::vector<bool> seen(meta.last_page + 1, false);
  std::vector<uint64_t> pending;
  for (uint64_t root : meta.roots)
    if (root != kNoPage) pending.push_back(root);
  auto reach = [&](uint64_t pgno) {
    if (pgno <= meta.last_page && !seen[pgno]) pending.push_back(pgno);
  };
  while (!pending.empty()) {
    const uint64_t pgno = pending.back();
    pending.pop_back();
    if (pgno > meta.last_page || seen[pgno]) continue;
    seen[pgno] = true;
    if ((pgno + 1) * page > file_bytes) return pgno;
    if (::pread(fd, bytes.data(), page, static_cast<off_t>(pgno * page)) !=
        static_cast<ssize_t>(page))
      return pgno;
    const auto flags = read_at<uint16_t>(bytes.data(), kFlagsAt);
    if (flags & kOverflow) {
      const uint64_t pages = read_at<uint32_t>(bytes.data(), kOverflowPagesAt);
      if ((pgno + pages) * page > file_bytes) return pgno + pages - 1;
      continue;
    }
    if (!(flags & (kBranch | kLeaf)) || (flags & kLeaf2)) continue;
    const size_t lower = read_at<uint16_t>(bytes.data(), kLowerAt);
    if (lower < kHeaderBytes || lower > page) continue;  // damaged: LMDB's to report
    for (size_t at = kHeaderBytes; at + 2 <= lower; at += 2) {
      const size_t node = read_at<uint16_t>(bytes.data(), at);
      if (node + kNodeBytes > page) continue;
      const uint64_t lo = read_at<uint16_t>(bytes.data(), node);
      const uint64_t hi = read_at<uint16_t>(bytes.data(), node + 2);
      const uint64_t node_flags = read_at<uint16_t>(bytes.data(), node + 4);
      if (flags & kBranch) {
        reach(lo | (hi << 16) | (node_flags << 32));
        continue;
      }
      const size_t data = node + kNodeBytes + read_at<uint16_t>(bytes.data(), node + 6);
      if ((node_flags & kBigData) && data + 8 <= page) {
        reach(read_at<uint64_t>(bytes.data(), data));
      } else if ((node_flags & kSubData) && data + kDbRootAt + 8 <= page) {
        const uint64_t root = read_at<uint64_t>(bytes.data(), data + kDbRootAt);
        if (root != kNoPage) reach(root);
      }
    }
  }
  return kNoPage;
}

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
  // Shorter than the pages in use: legitimate only if the missing ones were allocated and
  // freed in one transaction. Walk the trees (once, with pread) for a page they still reach.
  const uint64_t in_use = (newest.last_page + 1) * first->page_bytes;
  if (size < in_use && newest.last_page < (uint64_t{1} << 40) / first->page_bytes) {
    const int walk_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (walk_fd < 0) return Status();
    const uint64_t missing = first_page_past_end(walk_fd, newest, size);
    ::close(walk_fd);
    if (missing != kNoPage) {
      return Status::corruption(
          "{} is truncated: {} bytes, but page {} of its trees ends at {} bytes; restore it "
          "from a backup",
          path, size, missing, (missing + 1) * first->page_bytes);
    }
  }
  return Status();
}

}  // namespace artana::kernel::ledger
