#include "ledger/process_identity.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <mutex>
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

namespace {

// Bumped in the child of every fork(): a child is a different owner. Cheaper than asking
// getpid() (a system call) on every append.
std::atomic<uint64_t> g_fork_generation{1};

void note_fork_in_child() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

uint64_t fork_generation() {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, &note_fork_in_child); });
  return g_fork_generation.load(std::memory_order_relaxed);
}

const ProcessIdentity& this_process() {
  static thread_local uint64_t cached_generation = 0;
  static thread_local ProcessIdentity cached;
  const uint64_t generation = fork_generation();
  if (cached_generation != generation) {
    cached = make_identity();
    cached_generation = generation;
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
