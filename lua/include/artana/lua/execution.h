// Execution: one run's share of a LuaState — what it may use and what it has used, and
// whether it was killed. Several executions can share one lua_State (the runs of one script,
// each a coroutine with its own environment): each keeps its own memory and instruction
// limits and its own kill, so one run over its limit, or killed, ends alone.
//
// Memory is exact per execution: the state's allocator charges every block to the execution
// current when it is allocated (LuaState::current) and credits that same execution when the
// block is freed, whoever frees it (the collector, running in another run's slice, usually
// does). A small block's owner is found from its 64 KiB slab (each execution carves its own
// slabs, small_blocks.h), a big block's from a header before it, as Luau's memory categories
// tag each allocation with its owner. Instructions are charged by the count hook to the
// execution current when it fires.
//
// Ownership: the LuaState owns its executions. One closed (LuaState::close_execution) stays
// until the last block charged to it is freed, so nothing can be credited to a dead object.
// Threading: as for the LuaState; kill() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "artana/kernel/error_kind.h"
#include "artana/lua/lua_limits.h"

namespace artana::lua {
namespace detail {
class SmallBlocks;
}

class LuaState;
class SyscallHandler;

class Execution {
 public:
  ~Execution();
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // Asks the execution to stop: the hook kills it the next time it fires in it. Thread-safe.
  void kill() { kill_requested_.store(true, std::memory_order_relaxed); }
  bool kill_requested() const { return kill_requested_.load(std::memory_order_relaxed); }

  bool killed() const { return kill_reason_ != nullptr; }
  const char* kill_reason() const { return kill_reason_; }  // nullptr unless killed
  // Killed because LuaLimits::interrupt was set: the process is stopping, the run did
  // nothing wrong.
  bool interrupted() const;
  void mark_killed(const char* reason);  // reason: a string literal
  // Kills the execution for its memory limit: C++ work on its behalf (a conversion to JSON)
  // would take more than the run has left.
  void kill_for_memory();
  // Adds `instructions` to the budget (for C work the hook cannot see). Returns false and
  // marks the execution killed when the budget is spent.
  bool charge(uint64_t instructions);

  uint64_t instructions() const { return instructions_; }
  const LuaLimits& limits() const { return limits_; }
  // The bytes of the blocks charged to this execution that are not freed yet.
  size_t memory_used() const { return memory_used_; }

  // ---- time slices ----
  // True after a resume that ended in a time-slice yield (resume later), as opposed to a
  // kill (never resume) or a script's own yield. Reset by the next slice.
  bool yielded_for_slice() const { return yielded_for_slice_; }
  uint64_t slice_yields() const { return slice_yields_; }
  // Starts a slice: it ends after limits().slice_instructions, or once the deadline has
  // passed, whichever comes first.
  void clear_slice_flag() {
    yielded_for_slice_ = false;
    slice_used_ = 0;
  }
  void set_slice_deadline(std::chrono::steady_clock::time_point deadline) {
    slice_deadline_ = deadline;
  }

  // The kinds of the errors the host raised into this execution (push_error). A script can
  // raise a table with any `kind`; only one of these names a decision the host or kernel
  // made (ScriptRun keeps any other as the script's own, script_kind).
  void note_raised(ErrorKind kind) { raised_kinds_ |= uint64_t{1} << static_cast<unsigned>(kind); }
  bool raised(ErrorKind kind) const { return (raised_kinds_ >> static_cast<unsigned>(kind)) & 1u; }

  // Its environment (a registry reference, kNoRef until the script API gives it one): the
  // sandbox's globals with its own `require` and `_G` (sandbox.h, push_execution_env).
  int environment() const { return environment_; }
  void set_environment(int ref) { environment_ = ref; }

  // What this execution's syscalls call (syscall_bridge.h): its run's handler.
  SyscallHandler* handler() const { return handler_; }
  void set_handler(SyscallHandler* handler) { handler_ = handler; }

 private:
  friend class LuaState;
  Execution(LuaState* state, const LuaLimits& limits);

  // Every counter back to a new execution's, the memory charged to it kept (LuaState::recycle).
  void reset_counters();
  // Room for a block of `nsize` bytes replacing `old` of this execution's: false, and the
  // execution killed for its memory limit, when there is none; false when it is killed.
  bool may_grow(size_t old, size_t nsize);

  LuaState* state_;
  LuaLimits limits_;
  std::unique_ptr<detail::SmallBlocks> blocks_;  // its slabs
  size_t memory_used_ = 0;
  size_t big_blocks_ = 0;       // blocks above SmallBlocks::kMaxBytes charged to it
  bool out_of_memory_ = false;  // sticky: once set, every growth fails
  bool closed_ = false;         // the run went; freed once nothing is charged to it
  uint64_t instructions_ = 0;
  uint64_t slice_yields_ = 0;
  uint64_t slice_used_ = 0;  // instructions since the slice began
  bool yielded_for_slice_ = false;
  std::chrono::steady_clock::time_point slice_deadline_ =
      std::chrono::steady_clock::time_point::max();
  SyscallHandler* handler_ = nullptr;
  int environment_ = -2;  // kNoRef
  const char* kill_reason_ = nullptr;
  std::atomic<bool> kill_requested_{false};
  uint64_t raised_kinds_ = 0;  // bit i: ErrorKind i was raised (kErrorKinds has < 64 rows)
  Execution* prev_ = nullptr;  // the state's list of executions
  Execution* next_ = nullptr;
};

}  // namespace artana::lua
