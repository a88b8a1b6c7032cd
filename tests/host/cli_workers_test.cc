// Several `artana worker` processes on one data directory: each side effect runs once. A
// worker holding a sleeping run must not wake it from its own stale view after another worker
// took the run on and moved it forward (issue 11, item 5).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "artana/kernel/json_parse.h"
#include "support/child_process.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

// Four side-effecting calls with a sleep between each: every wake-up is a chance for two
// workers to execute the run at once.
const char kSleepyCharges[] = R"lua(
local artana = require "artana"
artana.tool { name = "charge", side_effect = true, args = { n = "integer" },
              fn = function(args, ctx) print("CHARGED " .. ctx.idempotency_key); return { ok = true } end }
return function(run)
  for n = 1, 4 do
    run:tool("charge", { n = n }, { step_key = "charge:" .. n })
    run:sleep(0.05)
  end
  return "done"
end
)lua";

struct EventCounts {
  std::map<std::string, int> requested;  // "run step" -> tool_requested events
  int completed_runs = 0;
};

EventCounts count_events(const std::string& data) {
  CliRun exported = run_cli_env({}, "--data " + data + " ledger export");
  REQUIRE(exported.exit_code == 0);
  EventCounts counts;
  std::istringstream lines(exported.out);
  for (std::string line; std::getline(lines, line);) {
    auto event = kernel::parse_json(line);
    REQUIRE(event.ok());
    const std::string type = event->find("type")->as_string();
    const std::string run = event->find("run_id")->as_string();
    if (type == "tool_requested") {
      ++counts.requested[run + " " + event->find("payload")->find("step_key")->as_string()];
    }
    if (type == "run_completed") ++counts.completed_runs;
  }
  return counts;
}

TEST_CASE("three workers on one data directory run each side effect once",
          "[cli][worker][conflict]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string script = (dir / "charges.lua").string();
  std::ofstream(script) << kSleepyCharges;
  constexpr int kRuns = 16;
  for (int i = 0; i < kRuns; ++i) {
    CliRun started =
        run_cli_env({}, "--data " + data + " run " + script + " --run-id r" + std::to_string(i));
    INFO(started.out << started.err);
    REQUIRE(started.exit_code == 3);  // sleeping after its first charge
  }
  std::vector<std::unique_ptr<ChildProcess>> workers;
  for (int w = 0; w < 3; ++w) {
    workers.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
        ARTANA_CLI, "--data", data, "--log-level", "warn", "worker", "--poll-ms", "20"}));
  }
  // Until every run completed (each worker's loop keeps going until SIGTERM).
  EventCounts counts;
  for (int polls = 0; polls < 6000; ++polls) {
    counts = count_events(data);
    if (counts.completed_runs == kRuns) break;
    for (auto& worker : workers) REQUIRE(worker->running());
  }
  for (auto& worker : workers) {
    ::kill(worker->pid(), SIGTERM);
    const int status = worker->wait();
    CHECK(WIFEXITED(status));
  }
  counts = count_events(data);
  CHECK(counts.completed_runs == kRuns);
  CHECK(counts.requested.size() == size_t{4 * kRuns});
  for (const auto& [step, requested] : counts.requested) {
    INFO(step);
    CHECK(requested == 1);
  }
  CliRun verified = run_cli_env({}, "--data " + data + " ledger verify");
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

}  // namespace
}  // namespace artana::testing
