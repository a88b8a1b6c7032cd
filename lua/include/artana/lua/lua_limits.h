// LuaLimits: what one execution of a script may use. Apart from lua_state.h so embedders
// configuring a Host (host.h) do not include Lua's headers.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace artana::lua {

struct LuaLimits {
  size_t max_memory_bytes = 256 << 20;
  uint64_t max_instructions = 1'000'000'000;
  // A slice's length: the host gets control back after this many instructions at most (the
  // count hook fires every min(this, 1000) instructions, also to end a slice at a deadline).
  uint32_t slice_instructions = 10'000;
  // When set and true, every state stops at its next hook (kill reason "interrupted"), even
  // where it cannot yield (a message handler, a metamethod called from C): how a process
  // asked to stop (SIGTERM) leaves its runs. Read from the hook; a signal handler may set it.
  const std::atomic<bool>* interrupt = nullptr;
};

}  // namespace artana::lua
