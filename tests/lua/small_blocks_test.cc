// SmallBlocks: the Lua heap's small blocks keep every byte across every kind of resize, reuse
// freed blocks of the same class, and come from slabs a closed state gives back.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "small_blocks.h"

using artana::lua::detail::SmallBlocks;

namespace {

void fill(void* p, size_t n, unsigned char seed) {
  auto* bytes = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<unsigned char>(seed + i);
}

bool holds(const void* p, size_t n, unsigned char seed) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (bytes[i] != static_cast<unsigned char>(seed + i)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("small blocks keep their bytes through growth, shrinking and moves between sizes",
          "[lua]") {
  SmallBlocks blocks;
  // Each path: a size sequence; the prefix both sizes share must survive every step.
  const std::vector<std::vector<size_t>> paths = {
      {1, 16, 17, 100, 256, 257, 4000, 300, 200, 15, 1},  // up through every kind, then down
      {200, 40, 41, 33, 32, 240},                         // shrink in place, regrow
      {5000, 256, 5000},                                  // big to small and back
      {48, 48, 47, 48, 49},                               // same class, then the next
  };
  for (const auto& sizes : paths) {
    void* p = blocks.resize(nullptr, 0, sizes[0]);
    REQUIRE(p != nullptr);
    fill(p, sizes[0], 7);
    for (size_t i = 1; i < sizes.size(); ++i) {
      const size_t keep = std::min(sizes[i - 1], sizes[i]);
      p = blocks.resize(p, sizes[i - 1], sizes[i]);
      REQUIRE(p != nullptr);
      CHECK(holds(p, keep, 7));
      fill(p, sizes[i], 7);  // the whole new size is usable
    }
    CHECK(blocks.resize(p, sizes.back(), 0) == nullptr);
  }
}

TEST_CASE("a freed small block is handed out again for its class, shrinking keeps the block",
          "[lua]") {
  SmallBlocks blocks;
  void* a = blocks.resize(nullptr, 0, 40);
  blocks.resize(a, 40, 0);
  CHECK(blocks.resize(nullptr, 0, 33) == a);  // 33..48 share a class
  CHECK(blocks.resize(a, 33, 20) == a);       // smaller: the block already holds it
  void* b = blocks.resize(nullptr, 0, 20);
  CHECK(b != a);
  blocks.resize(a, 20, 0);
  blocks.resize(b, 20, 0);
  // Many blocks: carved from 64 KiB slabs, freed onto the free list, taken again from it
  // without another slab.
  std::vector<void*> many;
  for (int i = 0; i < 5000; ++i) many.push_back(blocks.resize(nullptr, 0, 256));
  const size_t slabs = blocks.slabs();
  CHECK(slabs >= 5000 * 256 / 65536);  // 256 blocks a slab: 19.5 slabs' worth
  CHECK(slabs <= 5000 * 256 / 65536 + 2);
  for (void* p : many) blocks.resize(p, 256, 0);
  CHECK(blocks.pooled_bytes() >= 5000 * 256);
  for (int i = 0; i < 5000; ++i) many[i] = blocks.resize(nullptr, 0, 250);
  CHECK(blocks.slabs() == slabs);
  for (void* p : many) blocks.resize(p, 250, 0);
}

TEST_CASE("a closed state's slabs serve the next state's blocks", "[lua]") {
  void* first = nullptr;
  {
    SmallBlocks blocks;
    first = blocks.resize(nullptr, 0, 64);
    blocks.resize(first, 64, 0);
  }
  // The slab went back to the process's cache and is the next one taken (the most recent).
  SmallBlocks next;
  void* again = next.resize(nullptr, 0, 64);
  CHECK(again == first);
  next.resize(again, 64, 0);
}
