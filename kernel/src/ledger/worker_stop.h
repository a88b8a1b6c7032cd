// The end of a ledger worker thread (PageWarmer, LogReadAhead): each is started on first
// use and waits on `wake` under `mu` until it has work or `stopping` is set.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace artana::kernel::ledger {

// Sets `stopping`, wakes the worker and joins it (if it was ever started).
inline void stop_worker(std::mutex& mu, std::condition_variable& wake, bool& stopping,
                        std::thread& thread) {
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
  }
  wake.notify_all();
  if (thread.joinable()) thread.join();
}

}  // namespace artana::kernel::ledger
