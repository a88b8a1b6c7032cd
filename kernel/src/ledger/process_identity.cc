#include "ledger/process_identity.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace artana::kernel::ledger {
namespace {

struct ProcStat {
  bool found = false;
  char state = '?';
  uint64_t start_ticks = 0;
};

ProcStat read_proc_stat(int64_t pid) {
  ProcStat stat;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return stat;
  // Field 2 (comm) may contain spaces and parentheses: start after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return stat;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  // After comm, the state is field 3; starttime is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) return stat;
    if (i == 3) stat.state = field.empty() ? '?' : field[0];
  }
  stat.found = true;
  stat.start_ticks = std::strtoull(field.c_str(), nullptr, 10);
  return stat;
}

ProcessIdentity make_identity() {
  ProcessIdentity id;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  id.host = host[0] != '\0' ? host : "localhost";
  id.pid = static_cast<int64_t>(getpid());
  id.start_ticks = read_proc_stat(id.pid).start_ticks;
  id.owner_id = id.host + ":" + std::to_string(id.pid) + ":" + std::to_string(id.start_ticks);
  return id;
}

}  // namespace

const ProcessIdentity& this_process() {
  // Recomputed after fork(): a child is a different owner.
  static thread_local int64_t cached_pid = 0;
  static thread_local ProcessIdentity cached;
  if (cached_pid != static_cast<int64_t>(getpid())) {
    cached = make_identity();
    cached_pid = cached.pid;
  }
  return cached;
}

bool process_alive(int64_t pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  ProcStat stat = read_proc_stat(pid);
  if (!stat.found) return false;                             // exited between the two checks
  if (stat.state == 'Z' || stat.state == 'X') return false;  // killed, not yet reaped
  return start_ticks == 0 || stat.start_ticks == start_ticks;
}

}  // namespace artana::kernel::ledger
