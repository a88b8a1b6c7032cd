// Schedule: what Host::tick works from (host_tick.cc) — the runs with a ready task in turn,
// the timers of the app's clock, the upkeep of executing runs on the steady clock, and the
// runs that may have stopped. Nothing in it is in proportion to the runs held but the
// registry: a tick touches only what is ready or due.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "io_thread.h"
#include "native_inbox.h"
#include "timer_heap.h"

namespace artana::host {

class ScriptRun;

struct Schedule {
  std::unordered_map<uint64_t, ScriptRun*> live;  // every execution, by serial
  uint64_t next_serial = 1;
  // The runs with a ready task, each queued once (ScriptRun::queued): those executing, and
  // apart those yet to start (a start costs several steps: run_slices weighs them apart).
  std::deque<ScriptRun*> ready;
  std::deque<ScriptRun*> starting;
  bool nothing_ready() const { return ready.empty() && starting.empty(); }
  TimerHeap timers;                // the app's clock: sleeping tasks, parked runs' wakes
  TimerHeap upkeep;                // the steady clock (µs): Host::keep_runs
  std::vector<uint64_t> stopping;  // Host::may_have_stopped, by serial
  // Runs held until their pipelined appends land (Host::hold_for_commits), by serial.
  std::vector<uint64_t> committing;
  // The application's completions taken from the inbox but not yet handed to their tasks
  // (Host::deliver_completions stops at the tick's deadline), in the order they came.
  std::deque<NativeInbox::Done> native_backlog;
  // The same for the I/O thread's (HTTP transfers, programs), taken while a run waits for
  // them (Host::http_waiters_): each delivered finishes a step, under the same budget.
  std::deque<io::IoThread::Completion> io_backlog;
  // What a slice has lately cost (µs, a moving average), by whether its run had started: a
  // start creates the run in the ledger and runs its chunk (hundreds of µs), a step costs
  // tens. Host::run_slices begins no slice the time left would not cover.
  struct SliceCost {
    double mean_us = 0;
    double spread_us = 0;  // the mean absolute deviation from it
    // What to plan for: most slices of the kind cost less (tails come from the machine).
    double planned_us() const { return mean_us + 2 * spread_us; }
    void add(double us) {
      // One outlier (the VM took the CPU away, a page-fault storm) moves the plan a little,
      // not for dozens of ticks: a sample counts for at most four times the mean.
      if (mean_us > 0) us = std::min(us, 4 * mean_us + 50);
      spread_us += (std::abs(us - mean_us) - spread_us) / 8;
      mean_us += (us - mean_us) / 8;
    }
  };
  SliceCost start_slice;
  SliceCost step_slice;
  // The last tick began no slice while runs were ready (completions took its budget): this
  // one begins one whatever it costs, so a stream of completions never starves the runs.
  bool slice_owed = false;
  SliceCost restart;  // a reloaded run's restart (Host::restart_reloaded)
};

// The application's completions waiting to be handed over: arrived in the inbox, or taken
// into the backlog a tick's budget left.
inline bool completions_waiting(const Schedule& s, const NativeInbox& inbox) {
  return inbox.has_done() || !s.native_backlog.empty() || !s.io_backlog.empty();
}

}  // namespace artana::host
