// `artana worker` takes over crashed and sleeping runs; two processes executing the same
// script write the same ledger payloads.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "support/child_process.h"
#include "support/cli_ledger.h"
#include "support/http_test_server.h"
#include "support/run_cli.h"
#include "support/slow_tool_script.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;

using Ledger = CliLedger;

const char kSteps[] = R"lua(
local artana = require "artana"
artana.model_port("m", function(req) return { output = { echo = req.prompt } } end)
return function(run, input)
  local a = run:model { model = "m", prompt = "first " .. input.word }
  local r = run:random(1000)
  local b = run:model { model = "m", prompt = "second " .. r }
  run:summary("progress", { done = 2 })
  return { a = a.output.echo, b = b.output.echo }
end
)lua";

TEST_CASE("worker finishes a run whose process was killed mid-run", "[cli][worker]") {
  Ledger ledger;
  const std::string script = ledger.script("steps.lua", kSteps);
  CliRun crashed = ledger("run " + script + " --run-id w1 --input '{\"word\":\"x\"}'",
                          {{"ARTANA_CRASH_AT", "syscall:2"}});
  REQUIRE(crashed.exit_code == 128 + SIGKILL);
  CHECK(ledger("status w1").exit_code == 0);  // running: nobody holds it any more
  CliRun worker = ledger("worker --once");
  INFO(worker.err);
  CHECK(worker.out == "run w1: completed\n");
  CliRun done = ledger("--json status w1");
  CHECK(done.out.find("\"completed\"") != std::string::npos);
}

TEST_CASE("worker wakes a sleeping run once its timer is due", "[cli][worker]") {
  Ledger ledger;
  const std::string script = ledger.script("nap.lua", R"lua(
return function(run) run:sleep(0.3); return "rested" end
)lua");
  CliRun sleeping = ledger("--json run " + script + " --run-id nap");
  REQUIRE(sleeping.exit_code == 3);
  CHECK(sleeping.out.find("\"sleeping\"") != std::string::npos);
  // A worker takes only runs that are due: a pass before the timer leaves it asleep, one
  // after wakes it.
  CliRun worker{0, "", ""};
  int passes = 0;
  for (; passes < 200 && worker.out.empty(); ++passes) worker = ledger("worker --once");
  INFO(worker.err);
  CHECK(worker.out == "run nap: completed\n");
}

// Event payloads of a run, without what differs between processes by design.
std::vector<std::string> stable_payloads(Ledger& ledger, const std::string& run) {
  CliRun exported = ledger("ledger export " + run);
  REQUIRE(exported.exit_code == 0);
  std::vector<std::string> payloads;
  std::istringstream lines(exported.out);
  for (std::string line; std::getline(lines, line);) {
    auto event = kernel::parse_json(line);
    REQUIRE(event.ok());
    Json payload = *event->find("payload");
    if (Json* entry = payload.find("entry")) entry->set("path", "-");  // script_loaded
    payloads.push_back(event->find("type")->as_string() + " " + *kernel::canonical_json(payload));
  }
  return payloads;
}

TEST_CASE("the same script in two processes writes byte-identical payloads", "[cli][determinism]") {
  Ledger one, two;
  const std::string args = " --run-id same --seed 7 --input '{\"word\":\"y\"}'";
  REQUIRE(one("run " + one.script("steps.lua", kSteps) + args).exit_code == 0);
  REQUIRE(two("run " + two.script("steps.lua", kSteps) + args).exit_code == 0);
  const std::vector<std::string> a = stable_payloads(one, "same");
  CHECK(a.size() >= 8);
  CHECK(a == stable_payloads(two, "same"));
}

TEST_CASE("global options may follow the verb", "[cli]") {
  Ledger ledger;
  const std::string script = ledger.script("steps.lua", kSteps);
  const std::string data = (ledger.dir / "after").string();
  CliRun ran = run_cli_env(
      {}, "run " + script + " --run-id g1 --input '{\"word\":\"z\"}' --data " + data + " --json");
  INFO(ran.err);
  CHECK(ran.exit_code == 0);
  CHECK(ran.out.find("\"completed\"") != std::string::npos);
  CHECK(run_cli_env({}, "status g1 --data " + data).exit_code == 0);
}

// Workers (`worker --once` with `worker_flags`) try to take `run` over for as long as its
// owner runs; nothing may execute there. Then the owner must have exited 0 and the workers
// tried more than three times. Returns the run's exported events.
std::string workers_while_owner_runs(Ledger& ledger, ChildProcess& owner, const std::string& run,
                                     const std::string& worker_flags = "") {
  int attempts = 0;
  while (owner.running()) {
    CliRun worker = ledger("--lease-ttl-ms 2500 worker --once" + worker_flags);
    INFO(worker.out << worker.err);
    // A worker that listed the run just before the owner completed it replays the completed
    // run (nothing live, nothing appended) and reports it completed.
    CHECK((worker.out.find("run " + run) == std::string::npos ||
           worker.out.find("run " + run + ": completed") != std::string::npos));
    CHECK(worker.err.find("lease taken over") == std::string::npos);
    ++attempts;
  }
  const int status = owner.wait();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(attempts > 3);
  const std::string events = ledger("ledger export " + run).out;
  CHECK(events.find("run_completed") != std::string::npos);
  return events;
}

size_t count_of(const std::string& events, const std::string& type) {
  size_t n = 0;
  const std::string quoted = "\"" + type + "\"";
  for (size_t at = events.find(quoted); at != std::string::npos; at = events.find(quoted, at + 1))
    ++n;
  return n;
}

TEST_CASE("a live owner keeps its run through a call longer than its lease: no takeover, one call",
          "[cli][worker][lease]") {
  Ledger ledger;
  // A side-effecting tool that computes for about two lease TTLs (2.5 s) without an append.
  // Renewed every TTL/3: a TTL this long leaves room for a host starved of CPU by a loaded
  // machine (sanitizer builds, parallel tests).
  const std::string script = ledger.script("slow.lua", slow_tool_script(/*side_effect=*/true));
  const std::string data = (ledger.dir / "ledger").string();
  ChildProcess owner({ARTANA_CLI, "--data", data, "--lease-ttl-ms", "2500", "--json", "run", script,
                      "--max-instructions", "10000000000", "--run-id", "long"});
  // Until the call has started: its request is in the ledger.
  for (int i = 0; i < 3000; ++i) {
    if (ledger("ledger export long").out.find("tool_requested") != std::string::npos) break;
    REQUIRE(owner.running());
  }
  // Workers try to take the run over for as long as the call runs.
  const std::string events = workers_while_owner_runs(ledger, owner, "long");
  CHECK(count_of(events, "tool_requested") == 1);
  CHECK(events.find("unknown_outcome") == std::string::npos);
}

// A model step records nothing until answered: a worker executing the run meanwhile must not
// make the call again (before the fix it did, and only its append was refused).
TEST_CASE("a live owner's HTTP model call longer than its lease: workers make no second call",
          "[cli][worker][lease][http]") {
  HttpTestServer server([](const HttpRequest&) {
    HttpReply reply;
    reply.delay_ms = 6000;  // over two lease TTLs
    reply.headers = {{"Content-Type", "application/json"}};
    reply.body = R"({"id":"resp_1","status":"completed","output":[{"type":"message","content":[)"
                 R"({"type":"output_text","text":"slow hello"}]}],)"
                 R"("usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}})";
    return reply;
  });
  Ledger ledger;
  const std::string sample = std::string(ARTANA_SOURCE_DIR) + "/samples/real_model/real_model.lua";
  const std::string data = (ledger.dir / "ledger").string();
  ChildProcess owner({ARTANA_CLI, "--data", data, "--lease-ttl-ms", "2500", "--json", "run", sample,
                      "--run-id", "slow", "--model-endpoint", server.url("/v1")});
  REQUIRE(server.wait_for_requests(1, 60000));  // the owner's call is in flight
  const std::string events =
      workers_while_owner_runs(ledger, owner, "slow", " --model-endpoint " + server.url("/v1"));
  CHECK(server.request_count() == 1);
  CHECK(count_of(events, "model_completed") == 1);
  CHECK(events.find("slow hello") != std::string::npos);
}

}  // namespace
}  // namespace artana::testing
