// TimerHeap: the host's due times, earliest first, so a tick finds what is due without
// looking at every run. Entries are never removed: one whose run went away or was armed
// again for another time is skipped when it comes up (the caller checks it is still wanted).
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

namespace artana::host {

struct TimerEntry {
  int64_t due = 0;
  uint64_t serial = 0;     // the execution (ScriptRun::serial) it is for; 0: a parked run
  std::string parked_run;  // serial 0: the parked run's id
};

class TimerHeap {
 public:
  void push(TimerEntry entry) { heap_.push(std::move(entry)); }
  // The earliest due time (perhaps of an entry no longer wanted: waking for it is harmless).
  std::optional<int64_t> next() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.top().due;
  }
  bool due(int64_t now) const { return !heap_.empty() && heap_.top().due <= now; }
  // The earliest entry; call only when due().
  TimerEntry pop() {
    TimerEntry entry = heap_.top();
    heap_.pop();
    return entry;
  }
  size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const { return a.due > b.due; }
  };
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, Later> heap_;
};

}  // namespace artana::host
