// ChildProcess: one program run for `run:exec`, driven by the I/O thread — spawned in a
// process group of its own, its stdout and stderr read as they come (non-blocking pipes, a
// cap per stream), its end seen through a pidfd, its timeout enforced on the whole group
// (SIGTERM, then SIGKILL after a grace period).
//
// When the program itself has exited, what is left of its group (a background child still
// holding the pipes) is killed once the pipes drain or after a short wait: a step's
// processes never outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace artana::io {

struct ProcessCall {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no '/'
  std::string cwd;                // an existing directory
  std::vector<std::string> env;   // "NAME=value": the whole environment
  int64_t timeout_ms = 60'000;
  int64_t kill_grace_ms = 2'000;               // after SIGTERM, before SIGKILL
  size_t max_output_bytes = size_t{64} << 10;  // kept per stream; the rest is read and dropped
};

struct ProcessResult {
  bool started = false;  // false: it could not be spawned (`error` says why)
  std::string error;
  int exit_code = -1;  // when it exited; -1 when a signal ended it
  int signal = 0;      // the signal that ended it, if any
  std::string out, err;
  bool truncated = false;  // a stream was longer than max_output_bytes
  bool timed_out = false;  // the timeout ended it
  int64_t elapsed_ms = 0;
};

class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Spawns `call`; the result says whether it started.
  static std::unique_ptr<ChildProcess> spawn(const ProcessCall& call);
  ~ChildProcess();  // kills the group and reaps the program if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The descriptors to poll for reading (the open pipes and the pidfd).
  std::vector<int> poll_fds() const;
  // Reads what the pipes have, reaps the program if it ended, enforces the timeout. True
  // once the result is final.
  bool advance(Clock::time_point now);
  // When advance() next has something to do without any descriptor becoming ready.
  Clock::time_point next_deadline() const;
  ProcessResult take_result() { return std::move(result_); }
  // Ends it now (a cancelled step): SIGKILL to the group, reaped.
  void kill_now();

 private:
  explicit ChildProcess(const ProcessCall& call);
  void read_pipe(int& fd, std::string& into);
  void reap(bool wait);
  void signal_group(int sig);

  ProcessCall call_;
  ProcessResult result_;
  int pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  bool exited_ = false;
  Clock::time_point started_, deadline_, kill_at_, exited_at_;
  bool termed_ = false, killed_ = false;
};

}  // namespace artana::io
