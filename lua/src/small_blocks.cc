#include "small_blocks.h"

#include <cstdlib>
#include <cstring>

namespace artana::lua::detail {

SmallBlocks::~SmallBlocks() {
  for (void* head : heads_) {
    while (head != nullptr) {
      void* next;
      std::memcpy(&next, head, sizeof next);
      std::free(head);
      head = next;
    }
  }
}

void* SmallBlocks::take(size_t n) {
  const size_t c = class_of(n);
  if (void* block = heads_[c]) {
    std::memcpy(&heads_[c], block, sizeof(void*));
    pooled_bytes_ -= (c + 1) * kClassBytes;
    return block;
  }
  return std::malloc((c + 1) * kClassBytes);
}

void SmallBlocks::give(void* p, size_t n) {
  if (n > kMaxBytes) {
    std::free(p);
    return;
  }
  const size_t c = class_of(n);
  const size_t bytes = (c + 1) * kClassBytes;
  if (pooled_bytes_ + bytes > kMaxPooledBytes) {
    std::free(p);
    return;
  }
  std::memcpy(p, &heads_[c], sizeof(void*));
  heads_[c] = p;
  pooled_bytes_ += bytes;
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
    // Shrinking must not fail: a big block kept for a small size holds more than its class.
    return nsize <= old ? ptr : nullptr;
  }
  std::memcpy(moved, ptr, old < nsize ? old : nsize);
  give(ptr, old);
  return moved;
}

}  // namespace artana::lua::detail
