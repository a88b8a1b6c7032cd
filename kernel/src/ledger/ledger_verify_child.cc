// verify_in_child: fork, scan in the child, report through a pipe (see ledger_verify.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "ledger/ledger_verify.h"

namespace artana::kernel::ledger {
namespace {

// Report wire format, one field per line: status code (0 = scanned), runs, events, bad_seq,
// ok (0/1), bad_run_id, then the problem or error message (may contain anything but NUL).
std::string serialize(const Result<VerifyReport>& result) {
  std::string out;
  if (!result.ok()) {
    out = std::to_string(static_cast<int>(result.status().code())) + "\n0\n0\n0\n0\n\n" +
          result.status().message();
    return out;
  }
  const VerifyReport& r = *result;
  out = "0\n" + std::to_string(r.runs_checked) + "\n" + std::to_string(r.events_checked) + "\n" +
        std::to_string(r.bad_seq) + "\n" + (r.ok ? "1" : "0") + "\n" + r.bad_run_id + "\n" +
        r.problem;
  return out;
}

Result<VerifyReport> deserialize(const std::string& text) {
  std::string fields[6];
  size_t at = 0;
  for (std::string& field : fields) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) return Status::internal("verify child sent a truncated report");
    field = text.substr(at, nl - at);
    at = nl + 1;
  }
  std::string message = text.substr(at);
  int code = std::atoi(fields[0].c_str());
  if (code != 0) return Status(static_cast<StatusCode>(code), message);
  VerifyReport r;
  r.runs_checked = std::strtoull(fields[1].c_str(), nullptr, 10);
  r.events_checked = std::strtoull(fields[2].c_str(), nullptr, 10);
  r.bad_seq = std::strtoull(fields[3].c_str(), nullptr, 10);
  r.ok = fields[4] == "1";
  r.bad_run_id = fields[5];
  r.problem = message;
  return r;
}

[[noreturn]] void child_main(const std::string& dir, const EventIndexer& indexer,
                             const std::optional<RunId>& run, VerifyProgress* progress,
                             int out_fd) {
  Result<VerifyReport> result = Status::internal("not run");
  auto env = LedgerEnv::open_in_child(dir);
  if (!env.ok()) {
    result = env.status();
  } else {
    result = verify_ledger(**env, indexer, run, progress);
    if (!result.ok() && result.status().code() == StatusCode::kCorruption) {
      VerifyReport report;
      report.ok = false;
      report.bad_run_id = progress->run_id;
      report.bad_seq = progress->seq;
      report.problem = result.status().message();
      result = report;
    }
  }
  std::string text = serialize(result);
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(out_fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  // No exit handlers, no destructors: they belong to the parent's state.
  _exit(0);
}

}  // namespace

Result<VerifyReport> verify_in_child(LedgerEnv& env, const EventIndexer& indexer,
                                     const std::optional<RunId>& run) {
  void* shared = ::mmap(nullptr, sizeof(VerifyProgress), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return Status::io_error("verify: mmap: {}", std::strerror(errno));
  auto* progress = new (shared) VerifyProgress{};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::munmap(shared, sizeof(VerifyProgress));
    return Status::io_error("verify: pipe: {}", std::strerror(errno));
  }
  const std::string dir = env.dir();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    ::munmap(shared, sizeof(VerifyProgress));
    return Status::io_error("verify: fork: {}", std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(dir, indexer, run, progress, fds[1]);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  VerifyProgress last = *progress;
  ::munmap(shared, sizeof(VerifyProgress));
  env.check_stale_readers();  // a crashed child leaves its reader slot behind

  if (WIFSIGNALED(wstatus)) {
    VerifyReport report;
    report.ok = false;
    report.bad_run_id = last.run_id;
    report.bad_seq = last.seq;
    report.problem = "reading the ledger crashed the verifier (signal " +
                     std::to_string(WTERMSIG(wstatus)) +
                     "): the data file is damaged here; restore it from a backup";
    return report;
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || text.empty()) {
    return Status::internal("verify child ended without a report (status {})", wstatus);
  }
  return deserialize(text);
}

}  // namespace artana::kernel::ledger
