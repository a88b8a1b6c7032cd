#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace artana::testing {
namespace {
constexpr int kReadLineDeadlineMs = 60'000;
}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv, int uid) {
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Opened now, by this user: a child that switches to another user may not be able to reach
  // the binary's path (a checkout in a home directory only its owner can enter), but can
  // execute the file it was handed.
  const int exe = ::open(args[0], O_RDONLY | O_CLOEXEC);
  if (exe < 0) throw std::runtime_error(std::string("cannot open ") + args[0]);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(exe);
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    if (uid >= 0 &&
        (::setgid(static_cast<gid_t>(uid)) != 0 || ::setuid(static_cast<uid_t>(uid)) != 0)) {
      _exit(126);
    }
    ::fexecve(exe, args.data(), environ);
    _exit(127);
  }
  ::close(exe);
  ::close(to_child[0]);
  ::close(from_child[1]);
  in_fd_ = to_child[1];
  out_fd_ = from_child[0];
  ::signal(SIGPIPE, SIG_IGN);  // a dead child must fail send(), not kill the test
}

ChildProcess::~ChildProcess() {
  if (!reaped_) kill_hard();
  if (in_fd_ >= 0) ::close(in_fd_);
  if (out_fd_ >= 0) ::close(out_fd_);
}

void ChildProcess::send(const std::string& line) {
  std::string data = line + "\n";
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(in_fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

std::string ChildProcess::read_line() {
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    // A child that hangs must fail the test, not hang it: wait at most the deadline.
    pollfd ready{out_fd_, POLLIN, 0};
    int polled = ::poll(&ready, 1, kReadLineDeadlineMs);
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) {
      throw std::runtime_error("the child process wrote no line within " +
                               std::to_string(kReadLineDeadlineMs / 1000) + " s");
    }
    char chunk[4096];
    ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string rest;
      rest.swap(buffer_);
      return rest;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void ChildProcess::kill_hard() {
  if (reaped_) return;
  ::kill(pid_, SIGKILL);
  wait();
}

int ChildProcess::wait() {
  if (reaped_) return status_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = status;
  return status;
}

bool ChildProcess::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (done != pid_) return true;
  reaped_ = true;
  status_ = status;
  return false;
}

}  // namespace artana::testing
