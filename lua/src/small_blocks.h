// SmallBlocks: the Lua heap's small blocks, carved per state from 64 KiB slabs and reused.
//
// Lua allocates and frees many small blocks per syscall (the request and result tables,
// their strings, a coroutine per port call), and a new state makes a few thousand (its
// libraries, the sandbox, the prelude). Through glibc's malloc that cost ~7 000 instructions
// of a ~140 000-instruction live model step; worse, a state is made on the state pool's
// thread and used on the ticking thread, so its blocks lived in one arena and were freed from
// another: the ticking thread waited on the pool thread's arena lock (0.3 ms seen under
// `perf trace`) and paid for heaps growing and shrinking under it (`brk`, `mprotect`, page
// faults: ~20 % of a game loop's time). Blocks of up to kMaxBytes now come from the state's
// own slabs: a free list per 16-byte class first, else the current slab's untouched tail.
// Slabs come from, and go back to, a process-wide cache (slab_cache.h) when the state is
// closed, so a state's small blocks touch no lock and no arena, and a closed state's memory
// serves the next state made without returning to the system. The price: a state holds its
// small blocks' high-water mark (in 64 KiB steps) until it is closed — the memory limit
// still counts what Lua holds now, and an idle run's state is closed when it is parked.
//
// The invariant that makes reuse safe: a block Lua currently sizes at s <= kMaxBytes holds
// at least class_bytes(s) bytes. Shrinking within the small sizes keeps the block (it is
// at least as big as the smaller class); every growth to another class, and every move in
// or out of the small sizes, takes a new block and copies.
// Not thread-safe (a lua_State is used by one thread at a time).
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace artana::lua::detail {

class SmallBlocks {
 public:
  static constexpr size_t kMaxBytes = 256;

  SmallBlocks() = default;
  ~SmallBlocks();  // gives the slabs back: call after lua_close
  SmallBlocks(const SmallBlocks&) = delete;
  SmallBlocks& operator=(const SmallBlocks&) = delete;

  // Lua's allocator contract (lua_Alloc) for a block Lua sizes at `old` (0 when ptr is
  // null): nsize 0 frees; otherwise returns the block for nsize bytes, or nullptr when
  // memory runs out (ptr then stays valid). Shrinking never fails.
  void* resize(void* ptr, size_t old, size_t nsize);
  // Bytes held on the free lists.
  size_t pooled_bytes() const { return pooled_bytes_; }
  // Slabs this state holds.
  size_t slabs() const { return slabs_.size(); }

 private:
  static constexpr size_t kClassBytes = 16;
  static constexpr size_t kClasses = kMaxBytes / kClassBytes;
  static size_t class_of(size_t n) { return (n - 1) / kClassBytes; }  // n in 1..kMaxBytes
  void* take(size_t n);
  void give(void* p, size_t n);  // n: the size Lua gave the block

  std::array<void*, kClasses> heads_{};  // each free block starts with the next one
  size_t pooled_bytes_ = 0;
  char* tail_ = nullptr;  // the current slab's untouched bytes
  char* tail_end_ = nullptr;
  std::vector<void*> slabs_;
  // Big blocks malloc gave that Lua now sizes small (a shrink that could not move): they
  // sit on the free lists like slab blocks, and are freed with the state.
  std::vector<void*> foreign_;
};

}  // namespace artana::lua::detail
