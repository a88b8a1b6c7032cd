// LogReadAhead: a thread that reads ahead of a replay in the log, so the replay's own reads
// find the log's pages already mapped into this process.
//
// Why: a process that opens a ledger maps it anew, and the first read of each page of the
// new mapping is a fault (about 0.2 µs on bare metal, 1.5–2.5 µs on this project's VMs with
// shadow page tables). A replay reads a result every ~5 µs and crosses a log page every
// three or four model steps, so those faults were ~10 % of it. When the replay reads a batch
// of results, the store asks this thread to walk the log entries after it: a read
// transaction of its own, each entry's bytes touched once per page.
//
// Read-only and best effort: a failed transaction or a missing position just ends the walk.
// Thread-safe. The thread starts with the first request and stops in the destructor, which
// must run before the environment closes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace artana::kernel::ledger {

class LedgerEnv;

class LogReadAhead {
 public:
  explicit LogReadAhead(LedgerEnv& env) : env_(env) {}
  ~LogReadAhead();
  LogReadAhead(const LogReadAhead&) = delete;
  LogReadAhead& operator=(const LogReadAhead&) = delete;

  // Walk the `count` log entries from `position` on (a later request replaces one not yet
  // started).
  void request(uint64_t position, uint64_t count);
  // Entries walked so far (tests and benchmarks).
  uint64_t entries_read() const;
  // Returns once the requests made so far have been walked.
  void drain();

 private:
  void run();
  uint64_t walk(uint64_t position, uint64_t count);  // the entries read

  LedgerEnv& env_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  uint64_t position_ = 0, count_ = 0;         // the pending request (count 0: none)
  uint64_t walked_from_ = 0, walked_to_ = 0;  // walked already: not walked again
  uint64_t entries_read_ = 0;
  bool walking_ = false;
  bool stopping_ = false;
  std::condition_variable idle_;
  std::thread thread_;
};

}  // namespace artana::kernel::ledger
