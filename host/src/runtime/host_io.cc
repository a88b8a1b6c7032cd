// Host: the requests its runs make of the outside world, through its one I/O thread.
#include <algorithm>
#include <thread>

#include "artana/host/host.h"
#include "io_thread.h"
#include "native_inbox.h"
#include "schedule.h"
#include "script_run.h"

namespace artana::host {

namespace {

uint64_t owner_tag(const ScriptRun& run) { return reinterpret_cast<uintptr_t>(&run); }

}  // namespace

Result<uint64_t> Host::send_http(io::HttpCall call, ScriptRun& run, uint64_t task_id) {
  ARTANA_ASSIGN_OR_RETURN(const uint64_t id, io_->submit(std::move(call), owner_tag(run)));
  http_waiters_.emplace(id, Adoption{&run, task_id});
  return id;
}

Result<uint64_t> Host::send_process(io::ProcessCall call, ScriptRun& run, uint64_t task_id) {
  ARTANA_ASSIGN_OR_RETURN(const uint64_t id, io_->submit_process(std::move(call), owner_tag(run)));
  http_waiters_.emplace(id, Adoption{&run, task_id});
  return id;
}

void Host::forget_http(const ScriptRun& run) {
  const size_t before = http_waiters_.size();
  std::erase_if(http_waiters_, [&run](const auto& entry) { return entry.second.run == &run; });
  if (http_waiters_.size() != before) io_->cancel_owner(owner_tag(run));
}

size_t Host::deliver_completions(std::chrono::steady_clock::time_point deadline) {
  std::deque<NativeInbox::Done>& backlog = schedule_->native_backlog;
  if (native_->has_done()) {
    io_->drain_wakeup();
    for (NativeInbox::Done& done : native_->take()) backlog.push_back(std::move(done));
  }
  // Each finishes a step (a commit, the result checked, the task made ready): one at least,
  // so a tick that starts late still makes progress, then while the budget lasts.
  size_t delivered = 0;
  for (; !backlog.empty(); ++delivered) {
    if (delivered > 0 && std::chrono::steady_clock::now() >= deadline) break;
    NativeInbox::Done done = std::move(backlog.front());
    backlog.pop_front();
    auto* run = reinterpret_cast<ScriptRun*>(done.owner);     // alive: when it goes, its tokens
    run->native_result(done.task_id, std::move(done.reply));  // are cancelled and its backlog
  }                                                           // dropped (forget_native)
  std::deque<io::IoThread::Completion>& io_backlog = schedule_->io_backlog;
  if (!http_waiters_.empty()) {
    for (io::IoThread::Completion& done : io_->take_completions())
      io_backlog.push_back(std::move(done));
  }
  while (!io_backlog.empty()) {
    if (delivered > 0 && std::chrono::steady_clock::now() >= deadline) break;
    io::IoThread::Completion done = std::move(io_backlog.front());
    io_backlog.pop_front();
    auto it = http_waiters_.find(done.id);
    if (it == http_waiters_.end()) continue;  // its run went away: dropped
    const Adoption waiter = it->second;
    http_waiters_.erase(it);
    if (done.process) {
      waiter.run->process_result(waiter.task_id, std::move(*done.process));
    } else {
      waiter.run->http_result(waiter.task_id, std::move(done.result));
    }
    ++delivered;
  }
  return delivered;
}

size_t Host::in_flight() const {
  return http_waiters_.size() + native_->outstanding() + schedule_->committing.size();
}

bool Host::wait_for_work(std::chrono::microseconds max) {
  // Nothing to do but wait: what the runs wait for to land is committed here, rather than
  // handed to the store's thread and waited for (two wake-ups a step for a lone run).
  if (!schedule_->committing.empty()) kernel_.commit_queued();
  if (completions_waiting(*schedule_, *native_) || commits_landed_.load(std::memory_order_acquire))
    return true;
  // A run's timer (a sleep ending, a parked run's wake) due before `max` ends the wait there:
  // the caller's next tick wakes it. On the app's clock, as the timers are.
  const std::optional<int64_t> due = schedule_->timers.next();
  if (due) {
    const int64_t left_us = *due - now_us();
    if (left_us <= 0) return true;
    max = std::min(max, std::chrono::microseconds(left_us));
  }
  bool completed = false;
  if (http_waiters_.empty() && native_->outstanding() == 0 && schedule_->committing.empty()) {
    // Nothing can complete: only time passes (a timer an app gave as `max`).
    if (max.count() > 0) std::this_thread::sleep_for(max);
  } else {
    completed = io_->wait(max);
  }
  return completed || (due && *due <= now_us());
}

int Host::wakeup_fd() const { return io_->wakeup_fd(); }

void Host::wake() { io_->poke(); }

void Host::wait_for_wakeup(std::chrono::microseconds max) {
  // Cleared after the wait: what woke it is found by the next tick (native completions and
  // requests done are flags and queues, not the descriptor's count).
  io_->wait(max);
  io_->drain_wakeup();
}

}  // namespace artana::host
