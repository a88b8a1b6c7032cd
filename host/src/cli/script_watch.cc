#include "script_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace artana::host {
namespace {

// Reads pending events; true when one names a .lua file.
bool drain(int fd) {
  alignas(inotify_event) char buffer[4096];
  bool lua_changed = false;
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return lua_changed;
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len > 0) {
        const std::string name(event->name);
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".lua") == 0) lua_changed = true;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
}

}  // namespace

Result<ScriptWatch> ScriptWatch::create(const std::string& script_path) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status::io_error("inotify_init1: {}", std::strerror(errno));
  const std::string folder = std::filesystem::absolute(script_path).parent_path().string();
  if (inotify_add_watch(fd, folder.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
    const int error = errno;
    close(fd);
    return Status::io_error("cannot watch {}: {}", folder, std::strerror(error));
  }
  return ScriptWatch(fd);
}

ScriptWatch::~ScriptWatch() {
  if (fd_ >= 0) close(fd_);
}

bool ScriptWatch::changed() {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0 || !drain(fd_)) return false;
  while (poll(&p, 1, 50) > 0) drain(fd_);
  return true;
}

bool ScriptWatch::wait_for_change(volatile std::sig_atomic_t& stop) {
  pollfd p{fd_, POLLIN, 0};
  while (!stop) {
    if (poll(&p, 1, 200) <= 0) continue;
    if (!drain(fd_)) continue;
    // Let the editor finish writing, then swallow what it wrote meanwhile.
    while (poll(&p, 1, 50) > 0) drain(fd_);
    return true;
  }
  return false;
}

}  // namespace artana::host
