// The process's cache of 64 KiB slabs for the Lua heaps' small blocks (small_blocks.h): a
// state takes its slabs here and gives them back when it is closed, so memory freed by one
// state serves the next without going back to the system (and without the allocator's
// arenas: a slab is taken and given under one short lock, once per 64 KiB). Up to
// kMaxCachedSlabs are kept; beyond that a slab given back is freed. Thread-safe.
#pragma once

#include <cstddef>

namespace artana::lua::detail {

constexpr size_t kSlabBytes = 64 * 1024;
constexpr size_t kMaxCachedSlabs = 1024;  // 64 MiB

// A slab of kSlabBytes (16-byte aligned), or nullptr when the system has no memory.
void* take_slab();
void give_slab(void* slab);

}  // namespace artana::lua::detail
