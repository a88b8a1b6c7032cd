// LMDB's on-disk layout (lmdb/mdb.c, format 1 of liblmdb 0.9), for the two places that read
// pages LMDB does not hand out: the check of a data file cut short (data_file_check.cc) and
// the map's address for PageWarmer (page_warmer.cc).
//   page:  a 16-byte header (pgno, pad, flags, then lower and upper, or an overflow run's
//          page count), an array of 16-bit node offsets, and nodes of {lo, hi, flags, ksize}
//          before their key and data;
//   meta:  the page header, then MDB_meta.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace artana::kernel::ledger::lmdb_layout {

// Page header.
constexpr size_t kFlagsAt = 10, kLowerAt = 12, kOverflowPagesAt = 12, kHeaderBytes = 16;
constexpr uint16_t kBranch = 0x01, kLeaf = 0x02, kOverflow = 0x04, kMeta = 0x08, kLeaf2 = 0x20;
// Nodes.
constexpr uint16_t kBigData = 0x01, kSubData = 0x02;  // node flags
constexpr size_t kNodeBytes = 8;
constexpr size_t kDbRootAt = 40;  // MDB_db.md_root

// Meta page (offsets from the page's start).
constexpr uint32_t kMagic = 0xBEEFC0DE;
constexpr size_t kMagicAt = kHeaderBytes;
constexpr size_t kPageSizeAt = 40;   // mm_dbs[FREE_DBI].md_pad holds the page size
constexpr size_t kFreeRootAt = 80;   // mm_dbs[FREE_DBI].md_root
constexpr size_t kMainRootAt = 128;  // mm_dbs[MAIN_DBI].md_root
constexpr size_t kLastPageAt = 136;  // mm_last_pg
constexpr size_t kTxnIdAt = 144;
constexpr size_t kMetaBytes = kTxnIdAt + 8;
constexpr uint64_t kNoPage = ~uint64_t{0};  // P_INVALID: an empty tree

// A field of type T at byte offset `at` (unaligned, in the machine's byte order, as LMDB
// writes it).
template <typename T>
T read_at(const void* bytes, size_t at) {
  T value;
  std::memcpy(&value, static_cast<const unsigned char*>(bytes) + at, sizeof value);
  return value;
}

}  // namespace artana::kernel::ledger::lmdb_layout
