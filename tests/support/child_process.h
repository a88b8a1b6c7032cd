// ChildProcess: a test's helper process, talked to by lines on its stdin/stdout.
// Killed (SIGKILL) and reaped at scope end if still running.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace artana::testing {

class ChildProcess {
 public:
  // Starts argv[0] with arguments argv[1..]; `uid` >= 0 switches user in the child first.
  explicit ChildProcess(const std::vector<std::string>& argv, int uid = -1);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void send(const std::string& line);
  // The next line of output, without '\n'; empty string at end of output. Throws (failing
  // the test) when none comes within 60 s.
  std::string read_line();
  void kill_hard();  // SIGKILL and reap
  // Waits for exit; returns the exit status as waitpid reports it.
  int wait();
  // Whether the child is still running (reaps it, keeping its status for wait(), if not).
  bool running();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int in_fd_ = -1;   // the child's stdin
  int out_fd_ = -1;  // the child's stdout
  std::string buffer_;
  bool reaped_ = false;
  int status_ = 0;  // once reaped
};

}  // namespace artana::testing
