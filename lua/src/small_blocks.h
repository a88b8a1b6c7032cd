// SmallBlocks: one execution's small Lua blocks, carved from 64 KiB slabs and reused.
//
// Lua allocates and frees many small blocks per syscall (the request and result tables,
// their strings, a coroutine per port call), and a new execution makes a few thousand. Through
// glibc's malloc that cost ~7 000 instructions of a ~140 000-instruction live model step;
// worse, a state made on the state pool's thread and used on the ticking thread had its blocks
// in one arena freed from another: the ticking thread waited on the pool thread's arena lock
// (0.3 ms seen under `perf trace`) and paid for heaps growing and shrinking under it. Blocks
// of up to kMaxBytes now come from the execution's own slabs: a free list per 16-byte class
// first, else the current slab's untouched tail. Slabs come from, and go back to, a
// process-wide cache (slab_cache.h), so small blocks touch no lock and no arena.
//
// Each slab is aligned to its size and starts with a header naming the SmallBlocks it belongs
// to and counting its blocks in use: the owner of any small block is one mask away (of()), so
// a block freed in another execution's slice goes back to, and is credited to, the execution
// that allocated it (execution.h). Once the execution ends (close()), its slabs go back to the
// cache as their last blocks are freed; until then a slab stays, its free blocks reused.
//
// The invariant that makes reuse safe: a block Lua currently sizes at s <= kMaxBytes holds
// at least class_bytes(s) bytes. Shrinking within the small sizes keeps the block (it is
// at least as big as the smaller class); every growth to another class takes a new block.
// Not thread-safe (a lua_State is used by one thread at a time).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace artana::lua::detail {

class SmallBlocks {
 public:
  static constexpr size_t kMaxBytes = 256;
  static constexpr size_t kClassBytes = 16;

  explicit SmallBlocks(void* owner) : owner_(owner) {}
  ~SmallBlocks();  // gives back every slab left: call once none of its blocks is in use
  SmallBlocks(const SmallBlocks&) = delete;
  SmallBlocks& operator=(const SmallBlocks&) = delete;

  // The SmallBlocks a block from take() belongs to.
  static SmallBlocks* of(void* block);
  // What the constructor was given: the execution the blocks are charged to.
  void* owner() const { return owner_; }

  // A block of at least n bytes (1 <= n <= kMaxBytes), or nullptr when the system has no
  // memory for a slab.
  void* take(size_t n);
  // Takes back a block of this SmallBlocks that Lua sized at n bytes.
  void give(void* p, size_t n);
  static bool same_class(size_t a, size_t b) { return class_of(a) == class_of(b); }

  // The owner went away: slabs with no block in use go back to the cache now, the others
  // when give() takes their last block back. Blocks given back are no longer reused.
  void close();
  bool closed() const { return closed_; }
  // Slabs held (once closed: those with blocks still in use).
  size_t slabs() const { return slabs_.size(); }
  // Bytes held on the free lists.
  size_t pooled_bytes() const { return pooled_bytes_; }

 private:
  static constexpr size_t kClasses = kMaxBytes / kClassBytes;
  static size_t class_of(size_t n) { return (n - 1) / kClassBytes; }  // n in 1..kMaxBytes
  void* carve(size_t bytes);

  void* owner_;
  std::array<void*, kClasses> heads_{};  // each free block starts with the next one
  size_t pooled_bytes_ = 0;
  char* tail_ = nullptr;  // the current slab's untouched bytes
  char* tail_end_ = nullptr;
  std::vector<void*> slabs_;
  bool closed_ = false;
};

}  // namespace artana::lua::detail
