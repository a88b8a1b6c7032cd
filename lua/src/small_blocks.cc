#include "small_blocks.h"

#include <algorithm>
#include <cstring>

#include "slab_cache.h"

namespace artana::lua::detail {
namespace {

// The first kHeaderBytes of every slab: whose it is and how many of its blocks are in use.
struct SlabHeader {
  SmallBlocks* blocks;
  uint32_t in_use;
};
constexpr size_t kHeaderBytes = 16;  // blocks stay 16-byte aligned
static_assert(sizeof(SlabHeader) <= kHeaderBytes);

SlabHeader* header_of(void* block) {
  return reinterpret_cast<SlabHeader*>(reinterpret_cast<uintptr_t>(block) & ~(kSlabBytes - 1));
}

}  // namespace

SmallBlocks::~SmallBlocks() {
  for (void* slab : slabs_) give_slab(slab);
}

SmallBlocks* SmallBlocks::of(void* block) { return header_of(block)->blocks; }

void* SmallBlocks::carve(size_t bytes) {
  if (static_cast<size_t>(tail_end_ - tail_) < bytes) {
    // The old tail's bytes (less than one block of this class) are left unused.
    void* slab = take_slab();
    if (slab == nullptr) return nullptr;
    slabs_.push_back(slab);
    auto* header = static_cast<SlabHeader*>(slab);
    header->blocks = this;
    header->in_use = 0;
    tail_ = static_cast<char*>(slab) + kHeaderBytes;
    tail_end_ = static_cast<char*>(slab) + kSlabBytes;
  }
  void* block = tail_;
  tail_ += bytes;
  return block;
}

void* SmallBlocks::take(size_t n) {
  const size_t c = class_of(n);
  const size_t bytes = (c + 1) * kClassBytes;
  void* block = heads_[c];
  if (block != nullptr) {
    std::memcpy(&heads_[c], block, sizeof(void*));
    // The next block of the class is read at the next take: a state recycled on another
    // core has its free lists out of this core's cache, and a miss there was the allocator's
    // whole cost. Fetched now, it arrives while Lua fills this block.
    if (heads_[c] != nullptr) __builtin_prefetch(heads_[c], 1);
    pooled_bytes_ -= bytes;
  } else {
    block = carve(bytes);
    if (block == nullptr) return nullptr;
  }
  ++header_of(block)->in_use;
  return block;
}

void SmallBlocks::give(void* p, size_t n) {
  SlabHeader* header = header_of(p);
  --header->in_use;
  if (closed_) {
    if (header->in_use == 0) {
      slabs_.erase(std::find(slabs_.begin(), slabs_.end(), static_cast<void*>(header)));
      give_slab(header);
    }
    return;
  }
  const size_t c = class_of(n);
  std::memcpy(p, &heads_[c], sizeof(void*));
  heads_[c] = p;
  pooled_bytes_ += (c + 1) * kClassBytes;
}

void SmallBlocks::close() {
  closed_ = true;
  heads_.fill(nullptr);
  pooled_bytes_ = 0;
  tail_ = tail_end_ = nullptr;
  auto empty = [](void* slab) {
    if (static_cast<SlabHeader*>(slab)->in_use != 0) return false;
    give_slab(slab);
    return true;
  };
  slabs_.erase(std::remove_if(slabs_.begin(), slabs_.end(), empty), slabs_.end());
}

}  // namespace artana::lua::detail
