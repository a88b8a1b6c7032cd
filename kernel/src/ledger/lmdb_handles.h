// RAII handles over LMDB's C API, and LMDB errors as Status values naming the path.
//
// Caveats (lmdb.h): one write transaction at a time per environment, and it must stay on the
// thread that began it; read transactions here use MDB_NOTLS so they may move between threads
// but must be short (a long reader pins old pages and the file grows); never use an env after
// fork(). MDB_MAP_FULL leaves a write transaction unusable: abort it, grow the map, redo.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "artana/kernel/status.h"

namespace artana::kernel::ledger {

// Maps an LMDB or errno code to a Status; `what` says what was being done, `path` where.
Status lmdb_status(int rc, std::string_view what, std::string_view path);

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view from_val(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// ThreadSanitizer cannot see how LMDB hands pages from one transaction to the next (through
// its lock file and meta pages): a page one thread's commit wrote and another thread's read
// then reads, or a page a finished reader read and the writer then reuses, would be reported
// as races. So, for it alone, a transaction's end releases and its beginning acquires one
// token, as LMDB's own bookkeeping orders them. Nothing in other builds.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
inline char g_lmdb_handover = 0;
inline void lmdb_txn_begun() { __tsan_acquire(&g_lmdb_handover); }
inline void lmdb_txn_ended() { __tsan_release(&g_lmdb_handover); }
#else
inline void lmdb_txn_begun() {}
inline void lmdb_txn_ended() {}
#endif

// Aborts unless commit() succeeded. Movable, used on one thread.
class Txn {
 public:
  Txn() = default;
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      abort();
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  MDB_txn* get() const { return txn_; }
  // Returns the raw LMDB code; the handle is consumed either way (LMDB frees it).
  int commit() {
    const int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
    lmdb_txn_ended();
    return rc;
  }
  void abort() {
    if (txn_ == nullptr) return;
    mdb_txn_abort(std::exchange(txn_, nullptr));
    lmdb_txn_ended();
  }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor() = default;
  Cursor(Cursor&& o) noexcept : cursor_(std::exchange(o.cursor_, nullptr)) {}
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  static int open(MDB_txn* txn, MDB_dbi dbi, Cursor& out) {
    return mdb_cursor_open(txn, dbi, &out.cursor_);
  }
  MDB_cursor* get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
};

// Fixed-width big-endian integers: memcmp order is numeric order, on every machine.
inline void put_u64be(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(b, 8);
}
inline uint64_t get_u64be(std::string_view s, size_t at = 0) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

}  // namespace artana::kernel::ledger
