// Schedule: what Host::tick works from (host_tick.cc) — the runs with a ready task in turn,
// the timers of the app's clock, the upkeep of executing runs on the steady clock, and the
// runs that may have stopped. Nothing in it is in proportion to the runs held but the
// registry: a tick touches only what is ready or due.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "timer_heap.h"

namespace artana::host {

class ScriptRun;

struct Schedule {
  std::unordered_map<uint64_t, ScriptRun*> live;  // every execution, by serial
  uint64_t next_serial = 1;
  std::deque<ScriptRun*> ready;    // each queued run once (ScriptRun::queued)
  TimerHeap timers;                // the app's clock: sleeping tasks, parked runs' wakes
  TimerHeap upkeep;                // the steady clock (µs): Host::keep_runs
  std::vector<uint64_t> stopping;  // Host::may_have_stopped, by serial
  // Runs held until their pipelined appends land (Host::hold_for_commits), by serial.
  std::vector<uint64_t> committing;
};

}  // namespace artana::host
