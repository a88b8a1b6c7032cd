// Where the stdlib is (run_request.h, default_stdlib_dir): found from the binary, so an
// installed tree works wherever it is moved to.
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "artana/host/run_request.h"

namespace artana::host {
namespace {

// `<dir of file>/../share/artana` when it holds the stdlib; else empty.
std::string installed_beside(const std::string& file) {
  const size_t slash = file.rfind('/');
  if (slash == std::string::npos) return "";
  const std::string dir = file.substr(0, slash) + "/../share/artana";
  struct stat st {};
  if (::stat((dir + "/harness.lua").c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  char resolved[PATH_MAX];
  return ::realpath(dir.c_str(), resolved) != nullptr ? std::string(resolved) : dir;
}

// The file this code was loaded from: libartana.so when it is in one (dladdr), else the
// executable (/proc/self/exe; dladdr names the main program as it was invoked, maybe
// relative).
std::string file_holding_this_code() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<const void*>(&default_stdlib_dir), &info) != 0 &&
      info.dli_fname != nullptr) {
    char resolved[PATH_MAX];
    if (::realpath(info.dli_fname, resolved) != nullptr) {
      char exe[PATH_MAX];
      const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
      // A shared object: its path. The main program: /proc/self/exe, below.
      if (n <= 0 || std::string(resolved) != std::string(exe, static_cast<size_t>(n))) {
        return resolved;
      }
    }
  }
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  return n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string();
}

}  // namespace

std::string default_stdlib_dir() {
  if (const char* dir = std::getenv("ARTANA_STDLIB"); dir != nullptr && *dir != '\0') return dir;
  // Computed once: the binary does not move while it runs.
  static const std::string found = [] {
    const std::string binary = file_holding_this_code();
    std::string beside = installed_beside(binary);
    if (!beside.empty()) return beside;
    // A binary of the build tree (the CLI, the tests, the samples): the source tree's stdlib.
    // Never for an installed one, which must not reach into the machine that built it.
    char resolved[PATH_MAX];
    const bool built_here = ::realpath(ARTANA_BUILD_DIR, resolved) != nullptr &&
                            binary.starts_with(std::string(resolved) + "/");
    return built_here ? std::string(ARTANA_STDLIB_DIR) : std::string();
  }();
  return found;
}

}  // namespace artana::host
