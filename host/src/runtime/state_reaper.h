// StateReaper: closes the lua_States of executions that went away on a thread of its own.
// Freeing a run's state (lua_close walks every object it holds) takes tens of µs; a game
// ending dozens of NPC episodes a frame would pay that inside its tick. A state handed here
// is touched by nothing else any more: the sandbox refuses __gc, so closing it runs no
// script code and calls no handler — it only frees memory (its own allocator's).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "artana/lua/lua_state.h"

namespace artana::host {

class StateReaper {
 public:
  StateReaper() = default;
  ~StateReaper();  // closes what is left, then joins
  StateReaper(const StateReaper&) = delete;
  StateReaper& operator=(const StateReaper&) = delete;

  // Takes `state` to close later. Its thread starts with the first state.
  void retire(std::unique_ptr<lua::LuaState> state);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::unique_ptr<lua::LuaState>> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace artana::host
