// StatePool: the lua_States of a host's runs, made and closed on a thread of its own.
//
// Making a run's state (the sandbox, the libraries, the artana module from its bytecode) costs
// a few hundred µs, closing one (lua_close walks every object) tens: a game starting and ending
// dozens of NPC episodes a frame, or a reload of a thousand runs, would pay that on the thread
// that ticks. So once a host has made a second state, states are made ahead — as many as the
// runs took lately, up to a cap — and the states of executions that went away are closed
// there. A hot reload does better still: the new execution reuses the old one's state
// (reuse).
//
// A state made ahead is bound to nothing: its syscalls reach the handler the taking run sets
// (LuaState::set_handler), its print() the target the run sets (PrintTarget). Closing runs no
// script code: the sandbox refuses __gc, so lua_close only frees the state's own memory.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
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
  uint64_t reused() const { return reused_; }
  // Takes `state` to close later.
  void retire(std::unique_ptr<lua::LuaState> state);

 private:
  static Result<PreparedState> prepare(const lua::LuaLimits& limits);
  void start_thread();  // REQUIRES: mu_ held
  void run();

  const lua::LuaLimits limits_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<PreparedState> ready_;
  size_t target_ = 0;  // how many to keep made ahead: grows with each take that found none
  size_t making_ = 0;  // being made on the pool's thread now
  size_t takes_ = 0;
  uint64_t reused_ = 0;  // reuse() calls that recycled (the caller's thread only)
  std::vector<std::unique_ptr<lua::LuaState>> retired_;
  bool stopping_ = false;
  bool no_thread_ = false;  // the system gave none: everything is done by the caller
  std::thread thread_;
};

}  // namespace artana::host
