#include "slab_cache.h"

#include <cstdlib>
#include <mutex>
#include <vector>

namespace artana::lua::detail {
namespace {

struct SlabCache {
  std::mutex mu;
  std::vector<void*> free;
};

// Never destroyed: states closed during the process's exit still give their slabs back.
SlabCache& cache() {
  static auto* slabs = new SlabCache();
  return *slabs;
}

}  // namespace

void* take_slab() {
  SlabCache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (!c.free.empty()) {
      void* slab = c.free.back();
      c.free.pop_back();
      return slab;
    }
  }
  // Aligned to its size: a block's slab, and so its owner, is its address masked.
  return std::aligned_alloc(kSlabBytes, kSlabBytes);
}

void give_slab(void* slab) {
  SlabCache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.free.size() < kMaxCachedSlabs) {
      c.free.push_back(slab);
      return;
    }
  }
  std::free(slab);
}

}  // namespace artana::lua::detail
