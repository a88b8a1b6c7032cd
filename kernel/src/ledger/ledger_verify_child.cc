// verify_in_child: re-execute this program as the verifier, report through a pipe
// (see ledger_verify.h).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ledger/ledger_verify.h"

extern char** environ;

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

constexpr int kReportFd = 200;    // the child writes its report here
constexpr int kProgressFd = 201;  // shared memory holding a VerifyProgress
constexpr const char* kDirVariable = "ARTANA_VERIFY_CHILD";
constexpr const char* kRunVariable = "ARTANA_VERIFY_RUN";

void write_all(int fd, const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Makes `fd` available as `target` in this (child) process, inherited across exec.
// Only async-signal-safe calls: this runs between fork and exec.
bool place_fd(int fd, int target) {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, target) == target;
}

// The verify child's whole life: runs before main() of whatever program re-executed itself.
__attribute__((constructor)) void verify_child_entry() {
  const char* dir = std::getenv(kDirVariable);
  if (dir == nullptr) return;
  std::optional<RunId> run;
  if (const char* id = std::getenv(kRunVariable); id != nullptr && id[0] != '\0') run = RunId(id);
  void* shared =
      ::mmap(nullptr, sizeof(VerifyProgress), PROT_READ | PROT_WRITE, MAP_SHARED, kProgressFd, 0);
  VerifyProgress scratch{};
  auto* progress = shared == MAP_FAILED ? &scratch : static_cast<VerifyProgress*>(shared);
  Result<VerifyReport> result = Status::internal("not run");
  auto env = LedgerEnv::open_in_child(dir);
  if (!env.ok()) {
    result = env.status();
  } else {
    result = verify_ledger(**env, run, progress);
    if (!result.ok() && result.status().code() == StatusCode::kCorruption) {
      VerifyReport report;
      report.ok = false;
      report.bad_run_id = progress->run_id;
      report.bad_seq = progress->seq;
      report.problem = result.status().message();
      result = report;
    }
  }
  write_all(kReportFd, serialize(result));
  // No exit handlers, no destructors: this process was only ever the verifier.
  _exit(0);
}

}  // namespace

Result<VerifyReport> verify_in_child(LedgerEnv& env, const std::optional<RunId>& run) {
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed.
  int progress_fd = ::memfd_create("artana-verify-progress", MFD_CLOEXEC);
  if (progress_fd < 0 || ::ftruncate(progress_fd, sizeof(VerifyProgress)) != 0) {
    return Status::io_error("verify: shared memory: {}", std::strerror(errno));
  }
  void* shared =
      ::mmap(nullptr, sizeof(VerifyProgress), PROT_READ | PROT_WRITE, MAP_SHARED, progress_fd, 0);
  if (shared == MAP_FAILED) {
    ::close(progress_fd);
    return Status::io_error("verify: mmap: {}", std::strerror(errno));
  }
  auto* progress = new (shared) VerifyProgress{};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::munmap(shared, sizeof(VerifyProgress));
    ::close(progress_fd);
    return Status::io_error("verify: pipe: {}", std::strerror(errno));
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "ARTANA_VERIFY_", 14) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back(std::string(kDirVariable) + "=" + env.dir());
  env_strings.push_back(std::string(kRunVariable) + "=" + (run ? run->str() : ""));
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  char arg0[] = "artana-verify";
  char* argv[] = {arg0, nullptr};

  pid_t pid = ::fork();
  if (pid == 0) {
    if (!place_fd(fds[1], kReportFd) || !place_fd(progress_fd, kProgressFd)) _exit(126);
    ::execve("/proc/self/exe", argv, envp.data());
    _exit(127);
  }
  const int fork_errno = errno;
  ::close(fds[1]);
  ::close(progress_fd);
  if (pid < 0) {
    ::close(fds[0]);
    ::munmap(shared, sizeof(VerifyProgress));
    return Status::io_error("verify: fork: {}", std::strerror(fork_errno));
  }
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
  last.run_id[sizeof last.run_id - 1] = '\0';
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
    return Status::internal("the verify process ended without a report (wait status {})", wstatus);
  }
  return deserialize(text);
}

}  // namespace artana::kernel::ledger
