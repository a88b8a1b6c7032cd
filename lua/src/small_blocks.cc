#include "small_blocks.h"

#include <cstdlib>
#include <cstring>

#include "slab_cache.h"

namespace artana::lua::detail {

SmallBlocks::~SmallBlocks() {
  for (void* slab : slabs_) give_slab(slab);
  for (void* block : foreign_) std::free(block);
}

void* SmallBlocks::take(size_t n) {
  const size_t c = class_of(n);
  const size_t bytes = (c + 1) * kClassBytes;
  if (void* block = heads_[c]) {
    std::memcpy(&heads_[c], block, sizeof(void*));
    pooled_bytes_ -= bytes;
    return block;
  }
  if (static_cast<size_t>(tail_end_ - tail_) < bytes) {
    // The old tail's bytes (less than one block of this class) are left unused.
    void* slab = take_slab();
    if (slab == nullptr) return nullptr;
    slabs_.push_back(slab);
    tail_ = static_cast<char*>(slab);
    tail_end_ = tail_ + kSlabBytes;
  }
  void* block = tail_;
  tail_ += bytes;
  return block;
}

void SmallBlocks::give(void* p, size_t n) {
  if (n > kMaxBytes) {
    std::free(p);
    return;
  }
  const size_t c = class_of(n);
  std::memcpy(p, &heads_[c], sizeof(void*));
  heads_[c] = p;
  pooled_bytes_ += (c + 1) * kClassBytes;
}

void* SmallBlocks::resize(void* ptr, size_t old, size_t nsize) {
  if (nsize == 0) {
    if (ptr != nullptr) give(ptr, old);
    return nullptr;
  }
  if (ptr == nullptr) return nsize <= kMaxBytes ? take(nsize) : std::malloc(nsize);
  const bool old_small = old <= kMaxBytes, new_small = nsize <= kMaxBytes;
  if (old_small && new_small && (nsize <= old || class_of(nsize) == class_of(old))) {
    return ptr;  // the block already holds class_bytes(nsize)
  }
  if (!old_small && !new_small) return std::realloc(ptr, nsize);
  void* moved = new_small ? take(nsize) : std::malloc(nsize);
  if (moved == nullptr) {
    // Shrinking must not fail: a big block kept for a small size holds more than its class
    // (and is freed with the state, not given to malloc from a free list).
    if (nsize > old) return nullptr;
    if (!old_small) foreign_.push_back(ptr);
    return ptr;
  }
  std::memcpy(moved, ptr, old < nsize ? old : nsize);
  give(ptr, old);
  return moved;
}

}  // namespace artana::lua::detail
