// Worker mode (threads=worker): a thread of the host's own ticks it, so an application that
// has no loop of its own (a tool, a server) starts runs and reads their outputs from any
// thread. Every entry holds the host's lock (HostCall); the worker holds it while it ticks
// and hands the events over, and lets go between ticks. Between ticks it sleeps on the
// host's wake-up descriptor until a completion arrives, an entry gives it work (HostCall
// pokes it), or the next timer or upkeep is due.
#include <algorithm>
#include <chrono>

#include "capi_internal.h"

namespace artana::capi {

namespace {

// A tick's budget in worker mode: entries wait at most this long for the lock.
constexpr std::chrono::milliseconds kWorkerBudget{5};
// Sleeping with nothing due: the upkeep (leases, another process's cancel) still needs a
// tick this often.
constexpr std::chrono::milliseconds kLongestSleep{100};

void run_worker(artana_host& h) {
  using Clock = std::chrono::system_clock;
  const LogScope log(h.log.get());
  std::unique_lock<std::recursive_mutex> lock(h.mu);
  while (!h.stopping) {
    const host::TickResult tick = h.host->tick(kWorkerBudget);
    deliver_events(h);
    h.ticked.notify_all();
    auto sleep = std::chrono::duration_cast<std::chrono::microseconds>(kLongestSleep);
    if (tick.more_ready) {
      sleep = std::chrono::microseconds(0);
    } else if (tick.next_timer_us) {
      const int64_t now =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
              .count();
      sleep = std::clamp(std::chrono::microseconds(*tick.next_timer_us - now),
                         std::chrono::microseconds(0), sleep);
    }
    lock.unlock();  // entries get their turn here
    if (sleep.count() > 0) {
      h.host->wait_for_wakeup(sleep);
    } else {
      std::this_thread::yield();
    }
    lock.lock();
  }
}

}  // namespace

HostCall::~HostCall() {
  if (host_.worker_mode && std::this_thread::get_id() != host_.worker_id) host_.host->wake();
}

bool in_callback(const artana_host& host) {
  if (host.worker_mode) return std::this_thread::get_id() == host.worker_id;
  return host.callback_depth > 0;
}

void start_worker(artana_host& host) {
  std::lock_guard<std::recursive_mutex> lock(host.mu);
  host.worker_mode = true;
  host.worker = std::thread([&host] { run_worker(host); });
  host.worker_id = host.worker.get_id();
}

void stop_worker(artana_host& host) {
  if (!host.worker.joinable()) return;
  {
    std::lock_guard<std::recursive_mutex> lock(host.mu);
    host.stopping = true;
  }
  host.host->wake();
  host.worker.join();
}

artana_status wait_until_idle(const char* function, artana_host& host, int64_t timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = timeout_ms < 0 ? Clock::time_point::max()
                                       : Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::recursive_mutex> lock(host.mu);
  for (;;) {
    if (host.host->idle() && host.host->in_flight() == 0 && host.pending_events.empty())
      return ok();
    if (Clock::now() >= deadline) {
      return fail(function, ARTANA_E_STATE,
                  "still busy after " + std::to_string(timeout_ms) + " ms");
    }
    host.host->wake();  // a tick soon, not at the worker's longest sleep
    host.ticked.wait_until(lock, std::min(deadline, Clock::now() + kLongestSleep));
  }
}

}  // namespace artana::capi
