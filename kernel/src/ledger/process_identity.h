// Who this process is, for run leases, and whether another process on this host still lives.
#pragma once

#include <cstdint>
#include <string>

namespace artana::kernel::ledger {

struct ProcessIdentity {
  std::string host;
  int64_t pid = 0;
  uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22: tells a reused pid from the original
  std::string owner_id;      // host:pid:start_ticks — unique per process incarnation
};

const ProcessIdentity& this_process();

// Changes in the child of every fork(): what a process cached about itself (its identity,
// random bytes drawn ahead) is stale when it differs. No system call.
uint64_t fork_generation();

// True unless `pid` is certainly gone: no such process, or a different process now has the
// pid (its start time differs). A process we may not signal (EPERM) is alive.
bool process_alive(int64_t pid, uint64_t start_ticks);

}  // namespace artana::kernel::ledger
