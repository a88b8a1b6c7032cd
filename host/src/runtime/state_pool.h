// StatePool: the lua_States of a host's runs, made and closed on a thread of its own.
//
// Making a run's state (the sandbox, the libraries, the artana module from its bytecode) costs
// a few hundred µs, closing one (lua_close walks every object) tens: a game starting and ending
// dozens of NPC episodes a frame, or a reload of a thousand runs, would pay that on the thread
// that ticks. So once a host has made a second state, states are made ahead — as many as the
// runs took lately, up to a cap — and the states of executions that went away are closed
// there. A hot reload does better still: the new execution reuses the old one's state —
// recycled on the pool's thread while the new execution waits (recycle_later), or, in a host
// without the thread, here (reuse).
//
// A state made ahead is bound to nothing: its syscalls reach the handler the taking run sets
// (LuaState::set_handler), its print() the target the run sets (PrintTarget). Closing runs no
// script code: the sandbox refuses __gc, so lua_close only frees the state's own memory.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "artana/lua/lua_limits.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/script_api.h"

namespace artana::host {

// Where a state's print() lines go: set by the run that takes the state.
using PrintTarget = std::function<void(std::string_view)>;

struct PreparedState {
  std::unique_ptr<lua::LuaState> lua;
  lua::ScriptApi api;
  std::shared_ptr<PrintTarget> print;
};

// The entry chunk a recycled state is readied with (lua::prepare_chunk).
struct EntryChunk {
  std::string text;
  std::string chunkname;
};

// A new coroutine of `state` holding the entry chunk `text` ready to resume (lua::prepare_chunk
// with the module's `boot`): what an execution's entry task runs.
Result<lua_State*> prepare_entry(lua::LuaState& state, int boot, std::string_view text,
                                 std::string_view chunkname);

// A used state readied on the pool's thread (StatePool::recycle_later): reused as reuse()
// does, its garbage collected, and `entry` holding the entry chunk ready to resume. An
// error: the caller makes the execution's state itself.
struct Recycled {
  uint64_t ticket = 0;
  Result<PreparedState> state = Status::internal("not recycled");
  lua_State* entry = nullptr;
};

class StatePool {
 public:
  explicit StatePool(lua::LuaLimits limits) : limits_(limits) {}
  ~StatePool();  // closes what is left, then joins
  StatePool(const StatePool&) = delete;
  StatePool& operator=(const StatePool&) = delete;

  // A fresh state with the artana module installed: one made ahead when there is one, else
  // made here (and more are made ahead from now on).
  Result<PreparedState> take();
  // The state an execution gave up (ScriptRun::give_up_state), readied for the next
  // execution of its run: recycled with a new artana module (LuaState::recycle), a few µs
  // where making one costs a hundred. One that cannot be reused is retired and a fresh one
  // taken.
  Result<PreparedState> reuse(PreparedState used);
  uint64_t reused() const { return reused_.load(std::memory_order_relaxed); }
  uint64_t recycled_off_thread() const {
    return recycled_off_thread_.load(std::memory_order_relaxed);
  }
  // Takes `state` to close later.
  void retire(std::unique_ptr<lua::LuaState> state);

  // ---- recycling off the ticking thread (a hot reload) ----
  // What reuse() does, plus the garbage the old execution left collected and the entry chunk
  // prepared, done on the pool's thread: a reload of a thousand runs spends a few tens of µs
  // a run there, and the ticking thread replays meanwhile. Returns the ticket
  // take_recycled() hands the result back with; 0 (nothing taken) when the pool has no
  // thread — the caller reuses the state itself.
  uint64_t recycle_later(std::unique_ptr<PreparedState>& used, EntryChunk entry);
  // Whether a recycled state waits in take_recycled(): one atomic load, for every tick.
  bool recycled_ready() const { return recycled_ready_.load(std::memory_order_acquire); }
  // The recycled states, or none this time when the pool's thread holds the lock (the
  // ticking thread never waits for it: recycled_ready() stays true, the next tick takes them).
  std::vector<Recycled> take_recycled();
  // The ticking thread hands jobs (recycle_later) and states to close (retire) over only when
  // the pool's lock is free at once: a pool thread preempted holding it (a lower-priority
  // thread on a busy machine) blocked a tick for most of a millisecond, a dozen times a
  // reload. Kept here meanwhile; handed over at the next call or tick.
  bool has_outbox() const { return !outbox_jobs_.empty() || !outbox_retired_.empty(); }
  void hand_over();
  // The execution that waited for `ticket` went away: its state is closed when it is done.
  void forget(uint64_t ticket);
  // Called on the pool's thread when a recycled state is ready (the host wakes its loop);
  // cleared before the host goes.
  void set_ready_hook(std::function<void()> hook);

 private:
  struct RecycleJob {
    uint64_t ticket;
    PreparedState used;
    EntryChunk entry;
  };
  static Result<PreparedState> prepare(const lua::LuaLimits& limits);
  // reuse() without the fallback: the state readied, or why not.
  static Status renew(PreparedState& used);
  Recycled recycle_here(RecycleJob job);
  void start_thread();  // REQUIRES: mu_ held
  void run();
  // The pool's thread: `state` closed by the loop (retire() is the ticking thread's).
  void retire_here(std::unique_ptr<lua::LuaState> state);

  const lua::LuaLimits limits_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<PreparedState> ready_;
  size_t target_ = 0;  // how many to keep made ahead: grows with each take that found none
  size_t making_ = 0;  // being made on the pool's thread now
  size_t takes_ = 0;
  std::atomic<uint64_t> reused_{0};               // states recycled (reuse and recycle_later)
  std::atomic<uint64_t> recycled_off_thread_{0};  // by recycle_later
  std::vector<std::unique_ptr<lua::LuaState>> retired_;
  std::deque<RecycleJob> recycling_;
  std::vector<Recycled> recycled_;
  uint64_t recycling_now_ = 0;         // the ticket the thread is recycling (0: none)
  bool forgot_recycling_now_ = false;  // its execution went away meanwhile
  uint64_t next_ticket_ = 1;           // the ticking thread's
  std::atomic<bool> recycled_ready_{false};
  // Its own lock, so the ticking thread never waits for mu_ while the hook makes its call.
  std::mutex hook_mu_;
  std::function<void()> ready_hook_;  // guarded by hook_mu_
  // The ticking thread's alone (no lock): what waits for hand_over().
  std::deque<RecycleJob> outbox_jobs_;
  std::vector<std::unique_ptr<lua::LuaState>> outbox_retired_;
  bool stopping_ = false;
  bool no_thread_ = false;  // the system gave none: everything is done by the caller
  std::thread thread_;
};

}  // namespace artana::host
