#include "state_pool.h"

#include <pthread.h>
#include <sched.h>

#include <optional>
#include <system_error>

#include <lua.hpp>

#include "artana/lua/thread_calls.h"

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
  outbox_jobs_.clear();
  outbox_retired_.clear();
  ready_.clear();
  retired_.clear();
  recycling_.clear();
  recycled_.clear();
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
  std::optional<PreparedState> prepared;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A host that makes one state (a CLI run) never starts the thread: it would only make a
    // state nobody takes.
    if (++takes_ >= 2) start_thread();
    if (!ready_.empty()) {
      prepared = std::move(ready_.front());
      ready_.pop_front();
      wake = true;  // one more is made in its place
    } else if (thread_.joinable()) {
      target_ = std::min(kMaxAhead, target_ == 0 ? 1 : target_ * 2);
      wake = true;
    }
  }
  if (wake) wake_.notify_one();  // outside the lock: the woken thread does not wait for it
  if (prepared) return std::move(*prepared);
  return prepare(limits_);
}

Result<lua_State*> prepare_entry(lua::LuaState& state, int boot, std::string_view text,
                                 std::string_view chunkname) {
  lua_State* thread = state.new_thread();
  if (thread == nullptr)
    return Status::failed_precondition("memory limit reached before the script started")
        .with_kind(ErrorKind::kLimitExceeded);
  ARTANA_RETURN_IF_ERROR(lua::prepare_chunk(state.state(), thread, boot, text, chunkname));
  return thread;
}

Status StatePool::renew(PreparedState& used) {
  if (!used.lua || !used.lua->recycle())
    return Status::failed_precondition("the state cannot be recycled");
  used.lua->set_handler(nullptr);  // the taking run sets its own
  ARTANA_ASSIGN_OR_RETURN(used.api, lua::renew_script_api(*used.lua, used.api));
  *used.print = nullptr;
  return Status();
}

Result<PreparedState> StatePool::reuse(PreparedState used) {
  if (renew(used).ok()) {
    reused_.fetch_add(1, std::memory_order_relaxed);
    return used;
  }
  retire(std::move(used.lua));
  return take();
}

uint64_t StatePool::recycle_later(std::unique_ptr<PreparedState>& used, EntryChunk entry) {
  // thread_ and stopping_ change only on this (the ticking) thread or in the destructor.
  if (!thread_.joinable() || stopping_ || !used) return 0;
  const uint64_t ticket = next_ticket_++;
  outbox_jobs_.push_back(RecycleJob{ticket, std::move(*used), std::move(entry)});
  used.reset();
  hand_over();
  return ticket;
}

void StatePool::hand_over() {
  if (!has_outbox()) return;
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // the pool's thread has it: the next call or tick
  for (RecycleJob& job : outbox_jobs_) recycling_.push_back(std::move(job));
  outbox_jobs_.clear();
  for (auto& state : outbox_retired_) retired_.push_back(std::move(state));
  outbox_retired_.clear();
  lock.unlock();
  wake_.notify_one();
}

Recycled StatePool::recycle_here(RecycleJob job) {
  Recycled out;
  out.ticket = job.ticket;
  Status renewed = renew(job.used);
  if (!renewed.ok()) {
    retire_here(std::move(job.used.lua));
    out.state = std::move(renewed);
    return out;
  }
  lua::LuaState& state = *job.used.lua;
  // The old execution's objects are garbage now (its threads unanchored, its module
  // unreferenced): collected here, the new execution does not pay a major collection for
  // them on the ticking thread.
  lua_gc(state.state(), LUA_GCCOLLECT);
  Result<lua_State*> entry =
      prepare_entry(state, job.used.api.boot, job.entry.text, job.entry.chunkname);
  if (!entry.ok()) {
    retire_here(std::move(job.used.lua));
    out.state = entry.status();
    return out;
  }
  reused_.fetch_add(1, std::memory_order_relaxed);
  recycled_off_thread_.fetch_add(1, std::memory_order_relaxed);
  out.entry = *entry;
  out.state = std::move(job.used);
  return out;
}

std::vector<Recycled> StatePool::take_recycled() {
  std::vector<Recycled> done;
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return done;  // the pool's thread has it: the next tick
  done.swap(recycled_);
  recycled_ready_.store(false, std::memory_order_release);
  return done;
}

void StatePool::forget(uint64_t ticket) {
  for (auto it = outbox_jobs_.begin(); it != outbox_jobs_.end(); ++it) {
    if (it->ticket != ticket) continue;
    outbox_retired_.push_back(std::move(it->used.lua));  // not handed over: closed instead
    outbox_jobs_.erase(it);
    hand_over();
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  for (auto it = recycling_.begin(); it != recycling_.end(); ++it) {
    if (it->ticket != ticket) continue;
    retired_.push_back(std::move(it->used.lua));  // not begun: closed instead
    recycling_.erase(it);
    wake_.notify_one();
    return;
  }
  for (auto it = recycled_.begin(); it != recycled_.end(); ++it) {
    if (it->ticket != ticket) continue;
    if (it->state.ok()) retired_.push_back(std::move(it->state->lua));
    recycled_.erase(it);
    wake_.notify_one();
    return;
  }
  if (ticket == recycling_now_) forgot_recycling_now_ = true;
}

void StatePool::set_ready_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hook_mu_);  // waits for a call of the old one in progress
  ready_hook_ = std::move(hook);
}

void StatePool::retire(std::unique_ptr<lua::LuaState> state) {
  if (!state) return;
  if (!thread_.joinable()) {
    state.reset();  // no thread (one state made, or none to be had): closed here
    return;
  }
  outbox_retired_.push_back(std::move(state));
  hand_over();
}

void StatePool::retire_here(std::unique_ptr<lua::LuaState> state) {
  std::lock_guard<std::mutex> lock(mu_);
  retired_.push_back(std::move(state));
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
      return stopping_ || !recycling_.empty() || !retired_.empty() ||
             ready_.size() + making_ < target_;
    });
    if (!recycling_.empty() && !stopping_) {
      RecycleJob job = std::move(recycling_.front());
      recycling_.pop_front();
      recycling_now_ = job.ticket;
      forgot_recycling_now_ = false;
      lock.unlock();
      Recycled done = recycle_here(std::move(job));
      lock.lock();
      recycling_now_ = 0;
      if (forgot_recycling_now_) {
        if (done.state.ok()) retired_.push_back(std::move(done.state->lua));
        continue;
      }
      recycled_.push_back(std::move(done));
      recycled_ready_.store(true, std::memory_order_release);
      // The hook (a write to the host's wake-up descriptor) outside mu_: a system call while
      // holding it is where this thread is preempted with the ticking thread waiting.
      lock.unlock();
      {
        std::lock_guard<std::mutex> hook_lock(hook_mu_);
        if (ready_hook_) ready_hook_();
      }
      lock.lock();
      continue;
    }
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
