// IoThread: the host's one thread for the outside world. It makes HTTP requests through one
// libcurl multi handle — connections kept and reused, HTTP/2 multiplexed, a cap per host,
// retries' waits as timers — and runs programs (run:exec: spawned here, their pipes read
// and their ends seen in the same poll), and hands each result back through a completion
// queue that the host's thread drains (Host::tick). Nothing on this thread calls Lua or the
// kernel.
//
// The thread starts with the first request (a host that makes none never has it, nor
// loads libcurl). A completion is a value; the owner tag lets the host cancel every
// request of one run at once (a reload, an unload) and drop what arrives late.
//
// Threading: submit, cancel_owner, take_completions, wait and wakeup_fd may be called from
// any thread; in practice the host's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "artana/kernel/status.h"
#include "child_process.h"
#include "http_transfer.h"

namespace artana::io {

class IoThread {
 public:
  IoThread();
  ~IoThread();  // cancels what is in flight, joins the thread
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  // Queues `call` (its wait first, if any) and returns its id (never 0, never reused).
  // kFailedPrecondition when libcurl cannot be loaded.
  Result<uint64_t> submit(HttpCall call, uint64_t owner);
  // Runs `call` (spawned on the I/O thread) and returns its id.
  Result<uint64_t> submit_process(ProcessCall call, uint64_t owner);
  // Aborts every request of `owner` not yet completed (a program: its group killed); their
  // completions never come.
  void cancel_owner(uint64_t owner);

  struct Completion {
    uint64_t id = 0;
    uint64_t owner = 0;
    HttpResult result;                     // a request's
    std::optional<ProcessResult> process;  // a program's (then `result` is empty)
  };
  // What has completed since the last call, in completion order (without waiting).
  std::vector<Completion> take_completions();
  // Waits until a completion is waiting or `max` has passed; true when one is.
  bool wait(std::chrono::microseconds max);
  // Makes wakeup_fd readable and wait() return (another source of completions, the native
  // calls', has one waiting). Any thread.
  void poke();
  // Consumes a poke: wakeup_fd is no longer readable until the next completion or poke.
  void drain_wakeup();
  // Readable while completions are waiting (an eventfd): for an app's own poll loop.
  int wakeup_fd() const { return event_fd_; }
  // Requests submitted and not yet taken as completions (waiting, queued or running).
  size_t in_flight() const;

 private:
  struct Shared;
  void start_locked();
  void loop();

  std::unique_ptr<Shared> shared_;
  int event_fd_ = -1;
  std::thread thread_;
};

}  // namespace artana::io
