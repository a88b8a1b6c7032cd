// SIGTERM and SIGINT stop `artana run` between slices: the run stays running with whole
// events, the process exits 128 + the signal, and a message handler looping forever cannot
// hold it (once it spun at 100 % CPU until SIGKILL).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>

#include "support/child_process.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

TEST_CASE("SIGTERM stops a run looping in an xpcall message handler within a second, exit 143",
          "[cli][signal]") {
  for (int signal : {SIGTERM, SIGINT}) {
    TempDir dir;
    const std::string data = (dir / "ledger").string();
    const std::string script = (dir / "spin.lua").string();
    std::ofstream(script) << "return function(run)\n"
                             "  run:now()\n"
                             "  xpcall(function() error('x') end, function(e) while true do end "
                             "end)\n"
                             "end\n";
    ChildProcess owner({ARTANA_CLI, "--data", data, "--json", "run", script, "--max-instructions",
                        "100000000000", "--run-id", "spin"});
    // Once run:now() (step now:1) is recorded the script is in its loop.
    for (int i = 0; i < 3000; ++i) {
      if (run_cli("--data " + data + " ledger export spin").out.find("now:1") != std::string::npos)
        break;
      REQUIRE(owner.running());
    }
    const auto sent = std::chrono::steady_clock::now();
    REQUIRE(::kill(owner.pid(), signal) == 0);
    const int status = owner.wait();
    const auto waited = std::chrono::steady_clock::now() - sent;
    CHECK(waited < std::chrono::seconds(1));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + signal);
    CliResult shown = run_cli("--data " + data + " status spin");
    CHECK(shown.out.find("running") != std::string::npos);
    CHECK(run_cli("--data " + data + " ledger verify").exit_code == 0);
  }
}

}  // namespace
}  // namespace artana::testing
