#include "state_pool.h"

#include <pthread.h>
#include <sched.h>

#include <system_error>

namespace artana::host {

namespace {

// Made ahead at most: a burst of starts beyond it makes the rest inline. A fresh state holds
// about 100 KiB.
constexpr size_t kMaxAhead = 256;

}  // namespace

StatePool::~StatePool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  ready_.clear();
  retired_.clear();
}

Result<PreparedState> StatePool::prepare(const lua::LuaLimits& limits) {
  PreparedState prepared;
  prepared.print = std::make_shared<PrintTarget>();
  lua::SandboxOptions sandbox;
  sandbox.print_sink = [target = prepared.print](std::string_view line) {
    if (*target) (*target)(line);
  };
  ARTANA_ASSIGN_OR_RETURN(prepared.lua, lua::LuaState::create(limits, sandbox));
  ARTANA_ASSIGN_OR_RETURN(prepared.api, lua::install_script_api(*prepared.lua, nullptr));
  return prepared;
}

void StatePool::start_thread() {
  if (thread_.joinable() || no_thread_ || stopping_) return;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    no_thread_ = true;
  }
}

Result<PreparedState> StatePool::take() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A host that makes one state (a CLI run) never starts the thread: it would only make a
    // state nobody takes.
    if (++takes_ >= 2) start_thread();
    if (!ready_.empty()) {
      PreparedState prepared = std::move(ready_.front());
      ready_.pop_front();
      wake_.notify_one();  // one more is made in its place
      return prepared;
    }
    if (thread_.joinable()) {
      target_ = std::min(kMaxAhead, target_ == 0 ? 1 : target_ * 2);
      wake_.notify_one();
    }
  }
  return prepare(limits_);
}

Result<PreparedState> StatePool::reuse(PreparedState used) {
  if (used.lua && used.lua->recycle()) {
    auto renewed = lua::renew_script_api(*used.lua, used.api);
    if (renewed.ok()) {
      used.api = *renewed;
      *used.print = nullptr;  // the taking run sets its own
      ++reused_;
      return used;
    }
  }
  retire(std::move(used.lua));
  return take();
}

void StatePool::retire(std::unique_ptr<lua::LuaState> state) {
  if (!state) return;
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable()) {
    lock.unlock();
    state.reset();  // no thread (one state made, or none to be had): closed here
    return;
  }
  retired_.push_back(std::move(state));
  lock.unlock();
  wake_.notify_one();
}

void StatePool::run() {
  pthread_setname_np(pthread_self(), "artana-states");
  // Background work (SCHED_BATCH): a ticking thread taking a state made ahead is not
  // preempted by this one starting on the next. Best effort.
  sched_param param{};
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] {
      return stopping_ || !retired_.empty() || ready_.size() + making_ < target_;
    });
    if (!retired_.empty()) {
      std::vector<std::unique_ptr<lua::LuaState>> closing = std::move(retired_);
      retired_.clear();
      lock.unlock();
      closing.clear();  // lua_close, outside the lock
      lock.lock();
      continue;
    }
    if (stopping_) return;
    ++making_;
    lock.unlock();
    Result<PreparedState> made = prepare(limits_);
    lock.lock();
    --making_;
    if (!made.ok()) {
      target_ = 0;  // a state that cannot be made here will not be made on the caller's either
      continue;
    }
    ready_.push_back(std::move(*made));
  }
}

}  // namespace artana::host
