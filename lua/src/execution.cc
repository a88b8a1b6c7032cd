#include "artana/lua/execution.h"

#include "kill_reasons.h"
#include "small_blocks.h"

namespace artana::lua {

using detail::kInstructionLimit;
using detail::kInterrupted;
using detail::kMemoryLimit;

Execution::Execution(LuaState* state, const LuaLimits& limits)
    : state_(state), limits_(limits), blocks_(std::make_unique<detail::SmallBlocks>(this)) {}

Execution::~Execution() = default;

bool Execution::interrupted() const { return kill_reason_ == kInterrupted; }

void Execution::mark_killed(const char* reason) {
  if (kill_reason_ == nullptr) kill_reason_ = reason;
}

void Execution::kill_for_memory() {
  out_of_memory_ = true;
  mark_killed(kMemoryLimit);
}

bool Execution::charge(uint64_t n) {
  instructions_ += n;
  if (instructions_ > limits_.max_instructions) mark_killed(kInstructionLimit);
  return !killed();
}

bool Execution::may_grow(size_t old, size_t nsize) {
  if (killed()) return false;  // a killed execution grows no more
  if (memory_used_ - old + nsize > limits_.max_memory_bytes) {
    kill_for_memory();  // Lua raises LUA_ERRMEM; the kill makes pcall rethrow it
    return false;
  }
  return true;
}

void Execution::reset_counters() {
  instructions_ = 0;
  slice_yields_ = 0;
  yielded_for_slice_ = false;
  slice_used_ = 0;
  slice_deadline_ = std::chrono::steady_clock::time_point::max();
  raised_kinds_ = 0;
}

}  // namespace artana::lua
