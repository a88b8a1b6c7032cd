// SmallBlocks: the Lua heap's small blocks, kept per state and reused.
//
// Lua allocates and frees many small blocks per syscall (the request and result tables,
// their strings, a coroutine per port call); glibc's malloc and free took ~7 000
// instructions of a ~140 000-instruction live model step. Blocks of up to kMaxBytes are
// kept on one free list per 16-byte class and handed out again, up to kMaxPooledBytes a
// state; the rest goes back to malloc.
//
// The invariant that makes reuse safe: a block Lua currently sizes at s <= kMaxBytes holds
// at least class_bytes(s) bytes. Shrinking within the small sizes keeps the block (it is
// at least as big as the smaller class); every growth to another class, and every move in
// or out of the small sizes, takes a new block and copies.
// Not thread-safe (a lua_State is used by one thread at a time).
#pragma once

#include <array>
#include <cstddef>

namespace artana::lua::detail {

class SmallBlocks {
 public:
  static constexpr size_t kMaxBytes = 256;
  static constexpr size_t kMaxPooledBytes = 256 * 1024;

  SmallBlocks() = default;
  ~SmallBlocks();  // frees the pooled blocks: call after lua_close
  SmallBlocks(const SmallBlocks&) = delete;
  SmallBlocks& operator=(const SmallBlocks&) = delete;

  // Lua's allocator contract (lua_Alloc) for a block Lua sizes at `old` (0 when ptr is
  // null): nsize 0 frees; otherwise returns the block for nsize bytes, or nullptr when
  // memory runs out (ptr then stays valid). Shrinking never fails.
  void* resize(void* ptr, size_t old, size_t nsize);
  // Bytes held on the free lists.
  size_t pooled_bytes() const { return pooled_bytes_; }

 private:
  static constexpr size_t kClassBytes = 16;
  static constexpr size_t kClasses = kMaxBytes / kClassBytes;
  static size_t class_of(size_t n) { return (n - 1) / kClassBytes; }  // n in 1..kMaxBytes
  void* take(size_t n);
  void give(void* p, size_t n);  // n: the size Lua gave the block

  std::array<void*, kClasses> heads_{};  // each free block starts with the next one
  size_t pooled_bytes_ = 0;
};

}  // namespace artana::lua::detail
