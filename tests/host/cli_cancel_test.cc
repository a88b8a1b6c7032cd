// Cancel is a request recorded for the run: applied at once when nobody executes the run,
// else by the process that does, within one tick of its host.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <fstream>

#include "support/child_process.h"
#include "support/run_cli.h"
#include "support/slow_tool_script.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("artana cancel stops a run another process is executing, mid-call, and exits 0",
          "[cli][cancel]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string script = (dir / "slow.lua").string();
  std::ofstream(script) << slow_tool_script(/*side_effect=*/false);
  ChildProcess owner({ARTANA_CLI, "--data", data, "--json", "run", script, "--max-instructions",
                      "10000000000", "--run-id", "long"});
  for (int i = 0; i < 3000; ++i) {
    if (run_cli("--data " + data + " ledger export long").out.find("tool_requested") !=
        std::string::npos)
      break;
    REQUIRE(owner.running());
  }
  CliResult cancel = run_cli("--data " + data + " --json cancel long --reason stop --wait");
  INFO(cancel.out);
  CHECK(cancel.exit_code == 0);
  CHECK(cancel.out.find("\"cancel\":\"cancelled\"") != std::string::npos);
  const int status = owner.wait();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 7);  // the owner's run ended cancelled
  const std::string events = run_cli("--data " + data + " ledger export long").out;
  CHECK(count_of(events, "\"cancel_requested\"") == 1);
  CHECK(count_of(events, "\"run_cancelled\"") == 1);
  CHECK(events.find("\"tool_completed\"") == std::string::npos);  // stopped mid-call
  CHECK(events.find("\"run_completed\"") == std::string::npos);
  CHECK(run_cli("--data " + data + " ledger verify").exit_code == 0);
  // Cancelling an ended run is refused; a new execution of it never goes live.
  CHECK(run_cli("--data " + data + " cancel long").exit_code == 4);
}

TEST_CASE("artana cancel of a paused run applies at once", "[cli][cancel]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string script = (dir / "wait.lua").string();
  std::ofstream(script) << "return function(run) return run:pause('approve?') end\n";
  CHECK(run_cli("--data " + data + " run " + script + " --run-id p1").exit_code == 3);
  CliResult cancel = run_cli("--data " + data + " cancel p1");
  INFO(cancel.out);
  CHECK(cancel.exit_code == 0);
  CHECK(cancel.out.find("p1: cancelled") != std::string::npos);
  CliResult status = run_cli("--data " + data + " --json status p1");
  CHECK(status.out.find("\"status\":\"cancelled\"") != std::string::npos);
  const std::string events = run_cli("--data " + data + " ledger export p1").out;
  CHECK(count_of(events, "\"cancel_requested\"") == 0);
  CHECK(count_of(events, "\"run_cancelled\"") == 1);
}

}  // namespace
}  // namespace artana::testing
