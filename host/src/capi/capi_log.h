// Where the library's log lines go (artana_host_set_log). The library logs through spdlog
// (one logger per layer, artana/kernel/logging.h); once a host is made here, every logger writes to
// one routing sink, which hands a line to the host it is about — the host whose entry, tick
// or worker is on this thread — or, from the library's own threads (commits, I/O), to every
// host with a log function. A line no host takes goes to stderr (never stdout: an
// application's stdout is its own).
#pragma once

#include <memory>
#include <mutex>

#include "artana/artana.h"

namespace artana::capi {

// A host's log function. Its lock is held while the function runs (recursive: the function
// may call back into the library, which may log), so clearing it waits for a call under way.
struct LogTarget {
  std::recursive_mutex mu;
  artana_log_fn fn = nullptr;
  void* user = nullptr;
  int min_level = ARTANA_LOG_INFO;
};

// Points every logger of the library at the routing sink (once per process) and registers
// `target` for the lines no one host is named for.
void route_logs(const std::shared_ptr<LogTarget>& target);
// Forgets `target` (the host is being destroyed): no line reaches its function after this.
void unroute_logs(const std::shared_ptr<LogTarget>& target);

// While one lives, lines logged on this thread are about `target`'s host.
class LogScope {
 public:
  explicit LogScope(LogTarget* target);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  LogTarget* previous_;
};

}  // namespace artana::capi
