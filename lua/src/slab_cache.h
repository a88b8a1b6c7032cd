// The process's cache of 64 KiB slabs for the Lua heaps' small blocks (small_blocks.h): an
// execution takes its slabs here and gives them back as they empty once it ended, so memory
// freed by one execution serves the next without going back to the system (and without the
// allocator's arenas: a slab is taken and given under one short lock, once per 64 KiB). Up
// to kMaxCachedSlabs are kept; beyond that a slab given back is freed. Thread-safe.
#pragma once

#include <cstddef>

namespace artana::lua::detail {

constexpr size_t kSlabBytes = 64 * 1024;
constexpr size_t kMaxCachedSlabs = 1024;  // 64 MiB

// A slab of kSlabBytes aligned to kSlabBytes, or nullptr when the system has no memory.
void* take_slab();
void give_slab(void* slab);

}  // namespace artana::lua::detail
