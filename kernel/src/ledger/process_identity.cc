#include "ledger/process_identity.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

namespace artana::kernel::ledger {
namespace {

struct ProcStat {
  bool found = false;
  char state = '?';
  uint64_t start_ticks = 0;
};

// /proc/<pid>/stat with plain system calls: a lease check asks it of other processes, and
// iostreams cost a locale's setup on a thread's first use (half a millisecond, in a frame).
ProcStat read_proc_stat(int64_t pid) {
  ProcStat stat;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return stat;
  char buffer[1024];  // comm is at most 64 bytes: the 52 fields fit
  ssize_t got = 0;
  do {
    got = ::read(fd, buffer, sizeof buffer - 1);
  } while (got < 0 && errno == EINTR);
  ::close(fd);
  if (got <= 0) return stat;
  const std::string_view line(buffer, static_cast<size_t>(got));
  // Field 2 (comm) may contain spaces and parentheses: start after the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string_view::npos || close + 2 >= line.size()) return stat;
  std::string_view rest = line.substr(close + 2);
  // After comm, the state is field 3; starttime is field 22.
  std::string_view field;
  for (int i = 3; i <= 22; ++i) {
    const size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return stat;
    rest.remove_prefix(start);
    const size_t end = rest.find_first_of(" \n");
    field = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    if (i == 3) stat.state = field[0];
  }
  stat.found = true;
  stat.start_ticks = std::strtoull(std::string(field).c_str(), nullptr, 10);
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
  // One per process incarnation (the ledger's open asks first: not a run's first step on
  // the ticking thread), published once and never changed: no lock, which a fork could copy
  // held into its child. A fork's child makes its own; the parent's stays allocated, reached
  // from it (references to it may still be held).
  struct Made {
    uint64_t generation;
    ProcessIdentity identity;
    const Made* before;
  };
  static std::atomic<const Made*> current{nullptr};
  const uint64_t generation = fork_generation();
  const Made* made = current.load(std::memory_order_acquire);
  while (made == nullptr || made->generation != generation) {
    const Made* mine = new Made{generation, make_identity(), made};
    if (current.compare_exchange_strong(made, mine, std::memory_order_acq_rel))
      return mine->identity;
    delete mine;  // another thread published first: `made` is what it published
  }
  return made->identity;
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
