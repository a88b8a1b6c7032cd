// The start and end of a ledger worker thread (PageWarmer, PayloadPrefetch, GroupCommit's
// committer): each is started on first use, named, and waits on `wake` under `mu` until it
// has work or `stopping` is set.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace artana::kernel::ledger {

// Names the calling thread (at most 15 characters), so `top -H`, `perf` and debuggers tell
// the ledger's threads from the embedding application's.
inline void name_this_thread(const char* name) { pthread_setname_np(pthread_self(), name); }

// Makes the calling thread background work for the scheduler (SCHED_BATCH): it gets its
// share of the CPU but does not preempt the thread that woke it. A host's ticking thread
// that hands a commit over (or takes a state made ahead) then finishes its tick rather than
// waiting in the middle of it, on two cores, for the helper to run first. Best effort.
inline void run_as_background() {
  sched_param param{};
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
}

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
