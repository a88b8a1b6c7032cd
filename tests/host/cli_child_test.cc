// Child runs through the CLI: a child executes only through its top-most ancestor (resume
// the child, the ancestor executes it), a held parent is refused naming its child, the
// worker wakes a sleeping child through its parent, a child's spend stops its parent, a
// refused capability is granted to the parent, and a cancel cascades.
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>

#include "support/cli_ledger.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using Ledger = CliLedger;

// The worker: pauses, sleeps or spends as its input says, then answers with a model step
// (each call printed, so a test counts them).
const char kWorker[] = R"lua(
local artana = require "artana"
artana.model_port("m", function(req)
  print("MODEL " .. req.prompt)
  return { output = { text = "ok " .. req.prompt }, usage = { cost_usd = 0.6 } }
end)
return function(run, input)
  if input.pause then run:pause("approve", {}) end
  if input.sleep then run:sleep(input.sleep) end
  local r
  for i = 1, input.calls or 1 do r = run:model { model = "m", prompt = "call " .. i } end
  return r.output.text
end
)lua";

const char kParent[] = R"lua(
local artana = require "artana"
artana.model_port("m", function(req)
  print("PARENT " .. req.prompt)
  return { output = { text = "parent" }, usage = { cost_usd = 0.01 } }
end)
return function(run, input)
  local c = run:child("worker.lua", { run_id = "kid", input = input })
  if input.then_model then run:model { model = "m", prompt = "after" } end
  return { child = c.output }
end
)lua";

TEST_CASE("resuming a paused child executes its top-most ancestor, which ends both",
          "[cli][child]") {
  Ledger ledger;
  ledger.script("worker.lua", kWorker);
  const std::string parent = ledger.script("parent.lua", kParent);
  CliRun paused = ledger("--json run " + parent + " --run-id top --input '{\"pause\": true}'");
  INFO(paused.err);
  REQUIRE(paused.exit_code == 3);
  CHECK(paused.out.find("\"paused\"") != std::string::npos);
  CliRun refused = ledger("resume top --input '\"no\"'");
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("kid") != std::string::npos);
  CliRun resumed = ledger("--json resume kid --input '\"yes\"'");
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.out.find("\"run_id\":\"top\"") != std::string::npos);
  CHECK(resumed.out.find("ok call 1") != std::string::npos);
  CHECK(occurrences(paused.err + resumed.err, "MODEL call 1") == 1);
  CHECK(ledger("--json status kid").out.find("\"completed\"") != std::string::npos);
}

TEST_CASE("the worker wakes a sleeping child through its parent", "[cli][child][worker]") {
  Ledger ledger;
  ledger.script("worker.lua", kWorker);
  const std::string parent = ledger.script("parent.lua", kParent);
  CliRun sleeping = ledger("--json run " + parent + " --run-id top --input '{\"sleep\": 0.3}'");
  INFO(sleeping.err);
  REQUIRE(sleeping.exit_code == 3);
  CHECK(sleeping.out.find("\"sleeping\"") != std::string::npos);
  // A worker takes only runs that are due: a pass before the child's timer leaves the tree
  // asleep, one after wakes it.
  CliRun worker{0, "", ""};
  for (int passes = 0; passes < 200 && worker.out.empty(); ++passes)
    worker = ledger("worker --once");
  INFO(worker.err);
  CHECK(worker.out == "run top: completed\n");
  CHECK(ledger("--json status kid").out.find("\"completed\"") != std::string::npos);
}

// A process killed at any syscall of the tree (the parent's or its child's) leaves both
// runs to the worker, which executes the top-most ancestor: the tree ends completed, each
// run started once.
TEST_CASE("the worker finishes a tree whose process was killed in its child",
          "[cli][child][worker]") {
  for (int k = 1;; ++k) {
    INFO("killed at syscall " << k);
    REQUIRE(k < 50);
    Ledger ledger;
    ledger.script("worker.lua", kWorker);
    const std::string parent = ledger.script("parent.lua", kParent);
    CliRun first = ledger("--json run " + parent + " --run-id top --input '{\"calls\": 2}'",
                          {{"ARTANA_CRASH_AT", "syscall:" + std::to_string(k)}});
    if (first.exit_code == 0) {
      CHECK(k > 3);  // the parent's child step and the child's two model steps were tried
      break;
    }
    REQUIRE(first.exit_code == 128 + SIGKILL);
    CliRun worker = ledger("worker --once");
    INFO(worker.err);
    CHECK(worker.out == "run top: completed\n");
    CHECK(ledger("--json status kid").out.find("\"completed\"") != std::string::npos);
    const std::string kid = ledger("ledger export kid").out;
    CHECK(occurrences(kid, "\"type\":\"run_started\"") == 1);
    CHECK(occurrences(ledger("ledger export top").out, "\"type\":\"child_completed\"") == 1);
    CHECK(ledger("ledger verify").exit_code == 0);
  }
}

TEST_CASE("a child's spend counts against its parent's budget", "[cli][child][budget]") {
  Ledger ledger;
  ledger.script("worker.lua", kWorker);
  const std::string parent = ledger.script("parent.lua", kParent);
  CliRun spent = ledger("--json run " + parent +
                        " --run-id top --budget 1 --input '{\"calls\": 2, \"then_model\": true}'");
  INFO(spent.err);
  CHECK(spent.exit_code == 5);
  CHECK(spent.out.find("budget_exceeded") != std::string::npos);
  CHECK(occurrences(spent.err, "MODEL call") == 2);
  CHECK(occurrences(spent.err, "PARENT after") == 0);  // stopped by its child's spend
  CliRun raised = ledger("--json resume top --budget 5");
  INFO(raised.err);
  CHECK(raised.exit_code == 0);
  CHECK(occurrences(raised.err, "MODEL call") == 0);
  CHECK(occurrences(raised.err, "PARENT after") == 1);
  CHECK(ledger("ledger verify").exit_code == 0);
}

// A child asking for more than its parent holds is refused before it has a run; the parent
// waits for the grant (needs_attention, exit 6) that `resume --grant` gives, then the child
// runs with it.
TEST_CASE("a child refused a capability runs once its parent is granted it",
          "[cli][child][grant]") {
  Ledger ledger;
  ledger.script("worker.lua", kWorker);
  const std::string parent = ledger.script("parent.lua", R"lua(
return function(run)
  local c = run:child("worker.lua", { run_id = "kid", caps = { "deploy" } })
  return { child = c.output }
end
)lua");
  CliRun refused = ledger("--json run " + parent + " --run-id top --caps notes");
  INFO(refused.err);
  REQUIRE(refused.exit_code == 6);
  CHECK(refused.out.find("capability_denied") != std::string::npos);
  CHECK(refused.out.find("\"needs_attention\"") != std::string::npos);
  CHECK(ledger("--json status kid").exit_code == 9);  // no run for the refused child
  CliRun granted = ledger("--json resume top --grant deploy");
  INFO(granted.err);
  REQUIRE(granted.exit_code == 0);
  CHECK(granted.out.find("ok call 1") != std::string::npos);
  CHECK(occurrences(refused.err + granted.err, "MODEL call 1") == 1);
  CHECK(ledger("--json status kid").out.find("\"completed\"") != std::string::npos);
  const std::string kid = ledger("ledger export kid").out;
  CHECK(kid.find("\"capabilities\":[\"deploy\"]") != std::string::npos);
  CHECK(ledger("ledger verify").exit_code == 0);
}

TEST_CASE("cancelling a parent cancels its child", "[cli][child][cancel]") {
  Ledger ledger;
  ledger.script("worker.lua", kWorker);
  const std::string parent = ledger.script("parent.lua", kParent);
  REQUIRE(ledger("run " + parent + " --run-id top --input '{\"pause\": true}'").exit_code == 3);
  CliRun cancelled = ledger("cancel top");
  INFO(cancelled.err);
  CHECK(cancelled.exit_code == 0);
  CHECK(ledger("--json status top").out.find("\"cancelled\"") != std::string::npos);
  CHECK(ledger("--json status kid").out.find("\"cancelled\"") != std::string::npos);
}

}  // namespace
}  // namespace artana::testing
