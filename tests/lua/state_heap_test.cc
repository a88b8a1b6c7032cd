// The state's heap (state_heap.cc, small_blocks.h): blocks keep every byte across every kind
// of resize, each is charged to the execution that allocated it and credited to that one when
// freed in another's turn, freed blocks are reused, and an ended execution's slabs go back.
#include <catch2/catch.hpp>

#include <lua.hpp>

#include <cstring>
#include <vector>

#include "lua_test_state.h"
#include "slab_cache.h"
#include "small_blocks.h"

using artana::lua::Execution;
using artana::lua::LuaState;
using artana::lua::detail::kSlabBytes;
using artana::lua::detail::SmallBlocks;
using artana::testing::make_state;

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

// The state's own allocator, called as Lua calls it.
struct Heap {
  explicit Heap(LuaState& state) { alloc = lua_getallocf(state.state(), &ud); }
  void* resize(void* p, size_t old, size_t n) { return alloc(ud, p, p ? old : 0, n); }
  lua_Alloc alloc;
  void* ud = nullptr;
};

}  // namespace

TEST_CASE("heap blocks keep their bytes through growth, shrinking and moves between sizes",
          "[lua]") {
  auto state = make_state();
  Heap heap(*state);
  Execution* other = state->open_execution({});
  REQUIRE(other != nullptr);
  // Each path: a size sequence; the prefix both sizes share must survive every step.
  const std::vector<std::vector<size_t>> paths = {
      {1, 16, 17, 100, 256, 257, 4000, 300, 200, 15, 1},  // up through every kind, then down
      {200, 40, 41, 33, 32, 240},                         // shrink in place, regrow
      {5000, 256, 5000},                                  // big to small and back
      {48, 48, 47, 48, 49},                               // same class, then the next
  };
  const size_t before = state->memory_used();
  for (bool alternate : {false, true}) {  // every other step in the other execution's turn
    for (const auto& sizes : paths) {
      void* p = heap.resize(nullptr, 0, sizes[0]);
      REQUIRE(p != nullptr);
      fill(p, sizes[0], 7);
      for (size_t i = 1; i < sizes.size(); ++i) {
        LuaState::Scope turn(*state, alternate && i % 2 == 1 ? other : state->own_execution());
        const size_t keep = std::min(sizes[i - 1], sizes[i]);
        p = heap.resize(p, sizes[i - 1], sizes[i]);
        REQUIRE(p != nullptr);
        CHECK(holds(p, keep, 7));
        fill(p, sizes[i], 7);  // the whole new size is usable
      }
      CHECK(heap.resize(p, sizes.back(), 0) == nullptr);
    }
    // Every block freed: whoever held it last was credited for it.
    CHECK(state->memory_used() == before);
    CHECK(other->memory_used() == 0);
  }
}

TEST_CASE("a block is charged to the execution that made it and credited to it when freed",
          "[lua]") {
  auto state = make_state();
  Heap heap(*state);
  Execution* a = state->open_execution({});
  Execution* b = state->open_execution({});
  void* small = nullptr;
  void* big = nullptr;
  {
    LuaState::Scope turn(*state, a);
    small = heap.resize(nullptr, 0, 100);
    big = heap.resize(nullptr, 0, 1000);
  }
  CHECK(a->memory_used() == 1100);
  {
    LuaState::Scope turn(*state, b);
    // Shrinking a's block in b's turn: still a's (realloc may move it all the same).
    big = heap.resize(big, 1000, 900);
    REQUIRE(big != nullptr);
    CHECK(a->memory_used() == 1000);
    // Growing it: b asked for the memory, so the block moves to b.
    big = heap.resize(big, 900, 2000);
    CHECK(a->memory_used() == 100);
    CHECK(b->memory_used() == 2000);
    heap.resize(small, 100, 0);  // freed in b's turn (as the collector does): a's credit
  }
  CHECK(a->memory_used() == 0);
  CHECK(b->memory_used() == 2000);
  heap.resize(big, 2000, 0);
  CHECK(b->memory_used() == 0);
}

TEST_CASE("an ended execution is freed and its slabs given back, once its last block is freed",
          "[lua]") {
  auto state = make_state();
  Heap heap(*state);
  const size_t executions = state->executions();
  Execution* a = state->open_execution({});
  CHECK(state->executions() == executions + 1);
  std::vector<void*> blocks;
  {
    LuaState::Scope turn(*state, a);
    for (int i = 0; i < 1000; ++i) blocks.push_back(heap.resize(nullptr, 0, 200));
  }
  state->close_execution(a);
  CHECK(state->executions() == executions + 1);  // its blocks are alive
  for (size_t i = 0; i + 1 < blocks.size(); ++i) heap.resize(blocks[i], 200, 0);
  CHECK(state->executions() == executions + 1);
  heap.resize(blocks.back(), 200, 0);
  CHECK(state->executions() == executions);
  // The slab that held the last block went back to the process's cache: the next slab any
  // execution takes is that one.
  Execution* b = state->open_execution({});
  LuaState::Scope turn(*state, b);
  void* again = heap.resize(nullptr, 0, 64);
  CHECK(SmallBlocks::of(again) != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(again) / kSlabBytes ==
        reinterpret_cast<uintptr_t>(blocks.back()) / kSlabBytes);
  heap.resize(again, 64, 0);
}

TEST_CASE("a freed small block is handed out again for its class, shrinking keeps the block",
          "[lua]") {
  SmallBlocks blocks(nullptr);
  void* a = blocks.take(40);
  CHECK(SmallBlocks::of(a) == &blocks);
  blocks.give(a, 40);
  CHECK(blocks.take(33) == a);  // 33..48 share a class
  void* b = blocks.take(20);
  CHECK(b != a);
  blocks.give(a, 33);
  blocks.give(b, 20);
  // Many blocks: carved from slabs, freed onto the free list, taken again from it without
  // another slab.
  std::vector<void*> many;
  for (int i = 0; i < 5000; ++i) many.push_back(blocks.take(256));
  const size_t slabs = blocks.slabs();
  CHECK(slabs >= 5000 * 256 / kSlabBytes);  // a slab holds one block fewer (its header)
  CHECK(slabs <= 5000 * 256 / (kSlabBytes - 256) + 2);
  for (void* p : many) blocks.give(p, 256);
  CHECK(blocks.pooled_bytes() >= 5000 * 256);
  for (int i = 0; i < 5000; ++i) many[i] = blocks.take(250);
  CHECK(blocks.slabs() == slabs);
  // Closed: the blocks still in use keep their slabs; the free ones are not reused.
  blocks.give(many.back(), 250);
  many.pop_back();
  blocks.close();
  CHECK(blocks.slabs() == slabs);
  for (void* p : many) blocks.give(p, 250);
  CHECK(blocks.slabs() == 0);
}
