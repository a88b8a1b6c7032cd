#include "child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

namespace artana::io {
namespace {

// How long the pipes may stay open after the program exited (a background child holding
// them) before the rest of its group is killed.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

ChildProcess::ChildProcess(const ProcessCall& call) : call_(call), started_(Clock::now()) {
  deadline_ = started_ + std::chrono::milliseconds(call.timeout_ms);
}

std::unique_ptr<ChildProcess> ChildProcess::spawn(const ProcessCall& call) {
  std::unique_ptr<ChildProcess> child(new ChildProcess(call));
  ProcessResult& result = child->result_;
  if (call.argv.empty()) {
    result.error = "no program to run";
    return child;
  }
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  // Only our ends are non-blocking: the program writes to a blocking pipe, as to a terminal.
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::fcntl(out[0], F_SETFL, O_NONBLOCK) != 0 || ::fcntl(err[0], F_SETFL, O_NONBLOCK) != 0) {
    result.error = std::string("pipe: ") + ::strerror(errno);
    for (int fd : {out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return child;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  // Nothing else of the host's (the ledger's files, sockets) reaches the program.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!call.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, call.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // a group of its own: the timeout ends all of it
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv, envp;
  for (const std::string& arg : call.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (const std::string& var : call.env) envp.push_back(const_cast<char*>(var.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (spawned != 0) {
    ::close(out[0]);
    ::close(err[0]);
    result.error = "cannot run '" + call.argv[0] + "': " + ::strerror(spawned);
    return child;
  }
  child->pid_ = pid;
  child->pidfd_ = pidfd_open(pid);
  child->out_fd_ = out[0];
  child->err_fd_ = err[0];
  result.started = true;
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) kill_now();
  close_fd(out_fd_);
  close_fd(err_fd_);
  close_fd(pidfd_);
}

std::vector<int> ChildProcess::poll_fds() const {
  std::vector<int> fds;
  for (int fd : {out_fd_, err_fd_, exited_ ? -1 : pidfd_}) {
    if (fd >= 0) fds.push_back(fd);
  }
  return fds;
}

void ChildProcess::read_pipe(int& fd, std::string& into) {
  char buffer[16384];
  while (fd >= 0) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      const size_t room = call_.max_output_bytes - std::min(into.size(), call_.max_output_bytes);
      into.append(buffer, std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room) result_.truncated = true;  // read on, kept no more
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    close_fd(fd);  // end of file, or an error: nothing more comes
  }
}

void ChildProcess::reap(bool wait) {
  if (pid_ <= 0 || exited_) return;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, wait ? 0 : WNOHANG);
  if (done != pid_) return;
  exited_ = true;
  exited_at_ = Clock::now();
  if (WIFEXITED(status)) {
    result_.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result_.signal = WTERMSIG(status);
  }
}

void ChildProcess::signal_group(int sig) {
  if (pid_ > 0) ::kill(-pid_, sig);
}

bool ChildProcess::advance(Clock::time_point now) {
  if (!result_.started) return true;
  read_pipe(out_fd_, result_.out);
  read_pipe(err_fd_, result_.err);
  reap(false);
  if (!exited_) {
    if (!termed_ && now >= deadline_) {
      result_.timed_out = true;
      termed_ = true;
      kill_at_ = now + std::chrono::milliseconds(call_.kill_grace_ms);
      signal_group(SIGTERM);
    } else if (termed_ && !killed_ && now >= kill_at_) {
      killed_ = true;
      signal_group(SIGKILL);
    }
    return false;
  }
  const bool drained = out_fd_ < 0 && err_fd_ < 0;
  if (!drained && now < exited_at_ + kDrainAfterExit && !result_.timed_out) return false;
  signal_group(SIGKILL);  // what is left of its group (it may be nothing)
  close_fd(out_fd_);
  close_fd(err_fd_);
  result_.elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(exited_at_ - started_).count();
  return true;
}

ChildProcess::Clock::time_point ChildProcess::next_deadline() const {
  if (!result_.started) return started_;
  if (exited_) return exited_at_ + kDrainAfterExit;
  const Clock::time_point due = termed_ ? kill_at_ : deadline_;
  // Without a pidfd (a kernel before 5.3) its end is only seen by asking, every 50 ms.
  if (pidfd_ < 0) return std::min(due, Clock::now() + std::chrono::milliseconds(50));
  return due;
}

void ChildProcess::kill_now() {
  signal_group(SIGKILL);
  reap(true);
}

}  // namespace artana::io
