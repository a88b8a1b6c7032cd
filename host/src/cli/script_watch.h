// --watch: waits (inotify) until a .lua file in the script's folder is written, so `artana
// run --watch` can execute the run again under the new code.
#pragma once

#include <csignal>
#include <string>

#include "artana/kernel/status.h"

namespace artana::host {

class ScriptWatch {
 public:
  static Result<ScriptWatch> create(const std::string& script_path);
  ScriptWatch(ScriptWatch&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ScriptWatch& operator=(ScriptWatch&&) = delete;
  ~ScriptWatch();

  // Blocks until a .lua file changes (true) or `stop` is set (false). Changes arriving
  // within 50 ms of each other count as one (editors write in several steps).
  bool wait_for_change(volatile std::sig_atomic_t& stop);
  // Whether a .lua file changed since the last look (does not block).
  bool changed();

 private:
  explicit ScriptWatch(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace artana::host
