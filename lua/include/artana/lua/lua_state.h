// LuaState owns one lua_State: a counting allocator (memory limits), a count hook on every
// thread (instruction limits and time slices), and the sandbox environment. What a run may
// use and has used is its Execution's (execution.h): a state has one of its own, and more
// when several runs share it, each charged while it is current.
//
// Kills are uncatchable. The hook, the allocator or kill() mark the execution killed with a
// reason; in the host's own threads (new_thread) the hook then yields to the host, which
// never resumes a killed thread. Where yielding is impossible (a table.sort comparator,
// a gsub callback, a user coroutine) the hook re-arms itself for every instruction and
// raises a limit_exceeded error; the sandbox's pcall, xpcall, coroutine.resume/wrap/close
// and load rethrow any error once the current execution is killed, so scripts never swallow
// a kill.
//
// Pattern functions (string.find/match/gmatch/gsub) run in C where the hook cannot fire, so
// the sandbox replaces them with a port of lstrlib's matcher that charges every matching
// step to the current execution's instruction budget (bounded_match.h): a pathological pattern ends
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
#include <vector>

#include "artana/kernel/error_kind.h"
#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "artana/lua/execution.h"
#include "artana/lua/lua_limits.h"
#include "artana/lua/sandbox.h"

namespace artana::lua {

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
  // never run again. The counters reset are the current execution's; the threads unanchored
  // are every execution's, so a state others share is not recycled.
  // REQUIRES: no Lua code of this state is running.
  bool recycle();

  // Loads `source` as text into the sandbox environment and runs it in a new thread,
  // resuming after each time-slice yield until it returns, fails or is killed.
  // Errors carry kind() "limit_exceeded", "sandbox_violation" or "script_error" (or the
  // kind of an error table the script raised). With `result`, the chunk's first return
  // value is converted to it (null when it returns nothing; a value JSON cannot hold is a
  // script_error naming it).
  Status run_chunk(std::string_view source, std::string_view chunkname,
                   kernel::Json* result = nullptr);

  // ---- executions sharing the state (execution.h) ----
  // A state is made with one execution of its own, current until another is made current.
  // The allocator charges the current execution, the hook counts its instructions and kills
  // it; every per-run accessor below is the current execution's.
  Execution* current() const { return current_; }
  Execution* own_execution() const { return own_; }
  // A new execution with its own limits (slice_instructions and interrupt stay the state's),
  // or nullptr when the process has no memory for it.
  Execution* open_execution(const LuaLimits& limits);
  // The run went: nothing is charged to it any more; it is freed once the collector has
  // freed the blocks charged to it. REQUIRES: not current, not own_execution().
  void close_execution(Execution* execution);
  // Executions not yet freed (own included; closed ones whose blocks are still alive too).
  size_t executions() const { return executions_; }
  // Makes `execution` current until the scope ends, then the previous one again.
  class Scope {
   public:
    Scope(LuaState& state, Execution* execution) : state_(state), previous_(state.current_) {
      state.current_ = execution;
    }
    ~Scope() { state_.current_ = previous_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    LuaState& state_;
    Execution* previous_;
  };

  // For the state's own work inside a run's turn (anchoring a thread in the registry): the
  // caller makes the run current again (a Scope around the protected call).
  void make_own_current() { current_ = own_; }

  // Asks the state's own execution to stop: the next hook firing in it kills it. Thread-safe.
  void kill() { own_->kill(); }

  bool killed() const { return current_->killed(); }
  const char* kill_reason() const { return current_->kill_reason(); }
  bool interrupted() const { return current_->interrupted(); }
  bool yielded_for_slice() const { return current_->yielded_for_slice(); }
  void clear_slice_flag() { current_->clear_slice_flag(); }
  void set_slice_deadline(std::chrono::steady_clock::time_point deadline) {
    current_->set_slice_deadline(deadline);
  }
  // How often the count hook fires at most: the finest grain of a deadline (a few µs).
  static constexpr uint32_t kHookEvery = 1000;

  bool charge(uint64_t instructions) { return current_->charge(instructions); }
  // C work is charged as one instruction per this many bytes it copies or scans (a VM
  // instruction costs about what copying 16 bytes does). Every byte the allocator hands
  // out is charged so (a string built by `..`, string.rep, a table's growth), and the
  // wrapped builtins charge what they scan (charged_builtins.cc).
  static constexpr uint64_t kBytesPerInstruction = 16;
  void kill_for_memory() { current_->kill_for_memory(); }
  void mark_killed(const char* reason) { current_->mark_killed(reason); }
  void note_raised(ErrorKind kind) { current_->note_raised(kind); }
  bool raised(ErrorKind kind) const { return current_->raised(kind); }
  uint64_t instructions() const { return current_->instructions(); }
  const LuaLimits& limits() const { return current_->limits(); }
  size_t memory_used() const { return current_->memory_used(); }
  uint64_t slice_yields() const { return current_->slice_yields(); }
  SyscallHandler* handler() const { return current_->handler(); }
  void set_handler(SyscallHandler* handler) { current_->set_handler(handler); }

 private:
  friend class Execution;
  explicit LuaState(const LuaLimits& limits);
  static void* alloc(void* ud, void* ptr, size_t osize, size_t nsize);
  static void hook(lua_State* L, lua_Debug* ar);
  int hook_count() const;
  // The heap (state_heap.cc): a new block charged to `to`; a block freed and credited to
  // its owner; whether a block Lua sizes at `size` is a big one (a header before it).
  void* allocate(Execution* to, size_t nsize);
  void release(void* block, size_t size);
  bool is_big(void* block, size_t size) const;
  Execution* owner_of(void* block, size_t size) const;
  void free_if_done(Execution* execution);  // a closed execution nothing is charged to

  const LuaLimits limits_;  // the state's: its own execution's, the hook's, the interrupt
  Execution* own_ = nullptr;
  Execution* current_ = nullptr;
  Execution* first_ = nullptr;  // every execution not freed, linked
  size_t executions_ = 0;
  // Big blocks Lua sizes small: a shrink that could not move (no memory for a slab). Freed
  // as big blocks; almost always empty.
  std::vector<void*> foreign_;
  lua_State* L_ = nullptr;
};

}  // namespace artana::lua
