#include "state_reaper.h"

#include <system_error>

namespace artana::host {

StateReaper::~StateReaper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  pending_.clear();  // whatever came after the thread left (or when it never started)
}

void StateReaper::retire(std::unique_ptr<lua::LuaState> state) {
  if (!state) return;
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable() && !stopping_) {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
      lock.unlock();
      state.reset();  // no thread to be had: closed here, as before there was one
      return;
    }
  }
  pending_.push_back(std::move(state));
  lock.unlock();
  wake_.notify_one();
}

void StateReaper::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    std::vector<std::unique_ptr<lua::LuaState>> closing = std::move(pending_);
    pending_.clear();
    const bool last = stopping_;
    lock.unlock();
    closing.clear();  // lua_close, outside the lock
    lock.lock();
    if (last && pending_.empty()) return;
  }
}

}  // namespace artana::host
