// LuaState owns one lua_State for one run: a counting allocator (memory limit), a count
// hook on every thread (instruction limit and time slices), and the sandbox environment.
//
// Kills are uncatchable. The hook, the allocator or kill() mark the state killed with a
// reason; in the host's own threads (new_thread) the hook then yields to the host, which
// never resumes a killed thread. Where yielding is impossible (a table.sort comparator,
// a gsub callback, a user coroutine) the hook re-arms itself for every instruction and
// raises a limit_exceeded error; the sandbox's pcall, xpcall, coroutine.resume/wrap/close
// and load rethrow any error once the state is killed, so scripts never swallow a kill.
//
// Pattern functions (string.find/match/gmatch/gsub) run in C where the hook cannot fire, so
// the sandbox replaces them with a port of lstrlib's matcher that charges every matching
// step to this state's instruction budget (bounded_match.h): a pathological pattern ends
// with the same uncatchable instruction-limit kill as a loop. Subjects above 1 MiB are
// refused outright with a catchable limit_exceeded error.
//
// Ownership: LuaState owns the lua_State (lua_close in the destructor). Threads returned by
// new_thread are borrowed; they stay anchored until release_thread or the LuaState dies.
// Threading: one thread at a time, except kill(), which any thread may call.
#pragma once

#include <stdexcept>

#include "artana/lua/lua_fwd.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "artana/kernel/error_kind.h"
#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "artana/lua/lua_limits.h"
#include "artana/lua/sandbox.h"

namespace artana::lua {
namespace detail {
class SmallBlocks;
}

// What the state's panic handler throws: a Lua error raised outside any protected call,
// which can only be a bug in the host's own Lua stack work (every push the host makes runs
// under lua_pcall). Instead of Lua's abort() of the whole process, the state is marked
// killed and this unwinds to where the host drives the run (Host::tick), which ends that
// run only. Lua's C frames carry unwind tables on every platform we build for, and the
// state is never run again, only closed.
struct LuaPanic : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SyscallHandler;

class LuaState {
 public:
  static Result<std::unique_ptr<LuaState>> create(const LuaLimits& limits,
                                                  const SandboxOptions& options = {});
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;

  // The LuaState that owns L (any of its threads), or nullptr for a foreign lua_State.
  static LuaState* from(lua_State* L);

  lua_State* state() const { return L_; }

  // A new coroutine thread with the hook installed, anchored in the registry, marked as a
  // host thread (its hook yields to the host for slices and kills). nullptr when out of
  // memory.
  lua_State* new_thread();
  // Unanchors a thread from new_thread (the collector frees it once nothing refers to it)
  // and stops treating it as a host thread. Never raises.
  void release_thread(lua_State* co);

  // Readies the state for the next execution of its run (a hot reload), as a new state
  // would be: no host thread anchored (the old execution's coroutines become garbage), the
  // instruction count and slice at zero, the old garbage collected when it holds a quarter
  // of the memory limit. What scripts could change is gone with the artana module, which
  // the caller makes anew (renew_script_api): the sandbox's globals, libraries and string
  // metatable are read-only to them. False (nothing changed) for a killed state, which is
  // never run again. REQUIRES: no Lua code of this state is running.
  bool recycle();

  // Loads `source` as text into the sandbox environment and runs it in a new thread,
  // resuming after each time-slice yield until it returns, fails or is killed.
  // Errors carry kind() "limit_exceeded", "sandbox_violation" or "script_error" (or the
  // kind of an error table the script raised). With `result`, the chunk's first return
  // value is converted to it (null when it returns nothing; a value JSON cannot hold is a
  // script_error naming it).
  Status run_chunk(std::string_view source, std::string_view chunkname,
                   kernel::Json* result = nullptr);

  // Asks the run to stop: the next hook firing kills it. Thread-safe.
  void kill() { kill_requested_.store(true, std::memory_order_relaxed); }

  bool killed() const { return kill_reason_ != nullptr; }
  const char* kill_reason() const { return kill_reason_; }  // nullptr unless killed
  // Killed because LuaLimits::interrupt was set: the process is stopping, the run did
  // nothing wrong.
  bool interrupted() const;
  // True after a resume that ended in a time-slice yield (resume later), as opposed to a
  // kill (never resume) or a script's own yield. Reset by the next resume.
  bool yielded_for_slice() const { return yielded_for_slice_; }
  // Starts a slice: it ends after limits().slice_instructions, or once `deadline` has passed
  // (checked every kHookEvery instructions), whichever comes first.
  void clear_slice_flag() {
    yielded_for_slice_ = false;
    slice_used_ = 0;
  }
  void set_slice_deadline(std::chrono::steady_clock::time_point deadline) {
    slice_deadline_ = deadline;
  }
  // How often the count hook fires at most: the finest grain of a deadline (a few µs).
  static constexpr uint32_t kHookEvery = 1000;

  // Adds `instructions` to the budget (for C work the hook cannot see). Returns false and
  // marks the state killed when the budget is spent.
  bool charge(uint64_t instructions);
  // C work is charged as one instruction per this many bytes it copies or scans (a VM
  // instruction costs about what copying 16 bytes does). Every byte the allocator hands
  // out is charged so (a string built by `..`, string.rep, a table's growth), and the
  // wrapped builtins charge what they scan (charged_builtins.cc).
  static constexpr uint64_t kBytesPerInstruction = 16;
  // Kills the state for its memory limit: C++ work on its behalf (a conversion to JSON)
  // would take more than the run has left.
  void kill_for_memory();
  void mark_killed(const char* reason);  // reason: a string literal

  // The kinds of the errors the host raised into this state (push_error). A script can
  // raise a table with any `kind`; only one of these names a decision the host or kernel
  // made (ScriptRun keeps any other as the script's own, script_kind).
  void note_raised(ErrorKind kind) { raised_kinds_ |= uint64_t{1} << static_cast<unsigned>(kind); }
  bool raised(ErrorKind kind) const { return (raised_kinds_ >> static_cast<unsigned>(kind)) & 1u; }

  uint64_t instructions() const { return instructions_; }
  const LuaLimits& limits() const { return limits_; }
  size_t memory_used() const { return memory_used_; }
  uint64_t slice_yields() const { return slice_yields_; }
  // What the state's syscalls call (syscall_bridge.h): its run's handler.
  SyscallHandler* handler() const { return handler_; }
  void set_handler(SyscallHandler* handler) { handler_ = handler; }

 private:
  explicit LuaState(const LuaLimits& limits);
  static void* alloc(void* ud, void* ptr, size_t osize, size_t nsize);
  static void hook(lua_State* L, lua_Debug* ar);

  LuaLimits limits_;
  std::unique_ptr<detail::SmallBlocks> blocks_;  // outlives L_: lua_close frees into it
  lua_State* L_ = nullptr;
  size_t memory_used_ = 0;
  bool out_of_memory_ = false;  // sticky: once set, every growth fails
  uint64_t instructions_ = 0;
  uint64_t slice_yields_ = 0;
  bool yielded_for_slice_ = false;
  uint64_t slice_used_ = 0;
  SyscallHandler* handler_ = nullptr;  // instructions since the slice began
  std::chrono::steady_clock::time_point slice_deadline_ =
      std::chrono::steady_clock::time_point::max();
  int hook_count() const;
  const char* kill_reason_ = nullptr;
  std::atomic<bool> kill_requested_{false};
  uint64_t raised_kinds_ = 0;  // bit i: ErrorKind i was raised (kErrorKinds has < 64 rows)
};

}  // namespace artana::lua
