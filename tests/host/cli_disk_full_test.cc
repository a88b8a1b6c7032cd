// A full disk during a run is a storage error in every durability mode: exit 8, the message
// leading with disk_full, the run left running; with space again, running it once more
// finishes it. (effects and full once said io_error and exited 1.) The "disk" is the
// process's file size limit (RLIMIT_FSIZE, SIGXFSZ ignored): writes past it fail with EFBIG,
// as on a full disk, for any user. `none` is covered on a real small filesystem by
// tests/kernel/ledger_crash_test.cc (its file is sized to the map, which a size limit refuses
// outright).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "support/temp_dir.h"

namespace artana::testing {
namespace {

struct Ran {
  int exit_code;
  std::string out;
};

// The CLI under a file size limit of `limit_kib` (0: none), stdout captured.
Ran run_limited(int limit_kib, const std::string& args) {
  std::string command = "trap '' XFSZ; ";
  if (limit_kib > 0)
    command += "ulimit -f " + std::to_string(limit_kib * 2) + "; ";  // 512 B blocks
  command += "exec " + std::string(ARTANA_CLI) + " " + args + " 2>/dev/null";
  FILE* pipe = ::popen(("sh -c \"" + command + "\"").c_str(), "r");
  REQUIRE(pipe != nullptr);
  Ran ran{-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) ran.out.append(buf, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) ran.exit_code = WEXITSTATUS(status);
  return ran;
}

TEST_CASE(
    "a full disk mid-run exits 8 naming disk_full in every synced mode, and the run "
    "finishes once there is room",
    "[cli][disk]") {
  for (const char* mode : {"effects", "full"}) {
    INFO(mode);
    TempDir dir;
    const std::string data = (dir / "ledger").string();
    const std::string script = (dir / "big.lua").string();
    std::ofstream(script) << "return function(run)\n"
                             "  local n = 0\n"
                             "  for i = 1, 200 do n = n + run:random(1000) end\n"
                             "  return { n = n, text = string.rep('x', 3 << 20) }\n"
                             "end\n";
    const std::string args = "--data " + data + " --json run " + script +
                             " --run-id big --durability " + std::string(mode);
    Ran full = run_limited(2048, args);  // 2 MiB: the steps fit, the 3 MiB output does not
    INFO(full.out.substr(0, 400));
    CHECK(full.exit_code == 8);
    CHECK(full.out.find("\"kind\":\"storage_error\"") != std::string::npos);
    CHECK(full.out.find("\"message\":\"disk_full: ") != std::string::npos);
    CHECK(full.out.find("\"status\":\"running\"") != std::string::npos);
    Ran again = run_limited(0, args);
    INFO(again.out.substr(0, 400));
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("\"status\":\"completed\"") != std::string::npos);
    Ran verify = run_limited(0, "--data " + data + " ledger verify");
    CHECK(verify.exit_code == 0);
  }
}

}  // namespace
}  // namespace artana::testing
