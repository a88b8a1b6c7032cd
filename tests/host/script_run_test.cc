// Scripts end to end: the issue's example, replay on a second execution, errors.
#include <catch2/catch.hpp>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

const char kExample[] = R"lua(
local artana = require "artana"
artana.tool { name = "store_argument", description = "stores a value", args = { value = "string" },
              capability = "", side_effect = false, version = "1",
              fn = function(args, ctx) return { stored = args.value } end }
local calls = 0
artana.model_port("demo-model", function(req)
  calls = calls + 1
  print("port call " .. calls .. " for " .. req.prompt)
  return { output = { text = "Reply to: " .. req.prompt },
           usage = { prompt_tokens = 3, completion_tokens = 2, cost_usd = 0.01 },
           tool_calls = { { name = "store_argument", arguments = { value = "x" } } } }
end)
return function(run, input)
  local r = run:model { model = "demo-model", prompt = "Store this idea",
                        schema = { text = "string" }, tools = { "store_argument" },
                        step_key = "turn_1" }
  local t = run:tool("store_argument", r.tool_calls[1].arguments, { step_key = "tool_1" })
  return { text = r.output.text, stored = t.result.stored, replayed = r.replayed }
end
)lua";

TEST_CASE("the issue's example runs, records its steps and completes", "[host]") {
  HostFixture f;
  const std::string path = f.script("main.lua", kExample);
  host::RunOutcome outcome = f.run(path, "run-example");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) ==
        R"({"replayed":false,"stored":"x","text":"Reply to: Store this idea"})");
  CHECK(f.count("run-example", "model_completed") == 1);
  CHECK(f.count("run-example", "tool_completed") == 1);
  CHECK(f.count("run-example", "run_completed") == 1);
  CHECK(f.count("run-example", "script_loaded") == 1);
  CHECK(f.printed == std::vector<std::string>{"port call 1 for Store this idea"});
}

TEST_CASE("a second execution of a completed run replays: no port call, nothing appended",
          "[host]") {
  HostFixture f;
  const std::string path = f.script("main.lua", kExample);
  host::RunOutcome first = f.run(path, "run-replay");
  INFO(text(first.error));
  REQUIRE(first.status == RunStatus::kCompleted);
  const size_t before = f.events("run-replay").size();
  f.restart();
  f.printed.clear();
  host::RunOutcome again = f.run(path, "run-replay");
  INFO(text(again.error));
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) ==
        R"({"replayed":true,"stored":"x","text":"Reply to: Store this idea"})");
  CHECK(f.printed.empty());
  CHECK(f.events("run-replay").size() == before);
}

TEST_CASE("a script error fails the run with the script's line", "[host]") {
  HostFixture f;
  const std::string path = f.script("bad.lua", R"lua(
return function(run, input)
  local t = run:now()
  error({ kind = "custom", message = "boom" })
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-bad");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kFailed);
  REQUIRE(outcome.error.find("where") != nullptr);
  CHECK(outcome.error.find("kind")->as_string() == "script_error");
  CHECK(outcome.error.find("script_kind")->as_string() == "custom");
  CHECK(outcome.error.find("where")->as_string() == "bad.lua:4");
  CHECK(f.count("run-bad", "run_failed") == 1);
}

TEST_CASE("a script cannot pick its exit code: a kind it writes is kept as script_kind", "[host]") {
  HostFixture f;
  const std::string path = f.script("forged.lua", R"lua(
local artana = require "artana"
artana.tool { name = "lookup", args = {}, fn = function(args)
  error({ kind = "permanent_error", message = "no such order" })
end }
return function(run, input)
  if input.rethrow then
    -- A real error the host raised, caught and raised again: its kind stands.
    local ok, e = pcall(run.tool, run, "lookup", {})
    error(e)
  end
  error({ kind = input.kind, message = "forged" })
end
)lua");
  for (const char* kind : {"budget_exceeded", "reconciliation_required", "lease_held", "cancelled",
                           "capability_denied", "internal"}) {
    const std::string run = std::string("run-") + kind;
    host::RunOutcome outcome = f.run(path, run, Json::object({{"kind", kind}}));
    INFO(kind << ": " << text(outcome.error));
    CHECK(outcome.status == RunStatus::kFailed);
    CHECK(outcome.error.find("kind")->as_string() == "script_error");
    CHECK(outcome.error.find("script_kind")->as_string() == kind);
    CHECK(f.count(run, "run_failed") == 1);
    CHECK(kernel::exit_code_for(outcome.status, ErrorKind::kScriptError) == 1);
  }
  host::RunOutcome rethrown = f.run(path, "run-rethrow", Json::object({{"rethrow", true}}));
  INFO(text(rethrown.error));
  CHECK(rethrown.status == RunStatus::kFailed);
  CHECK(rethrown.error.find("kind")->as_string() == "tool_failed");
  CHECK(rethrown.error.find("script_kind") == nullptr);
}

}  // namespace
}  // namespace artana::testing

namespace artana::testing {
namespace {

TEST_CASE("a completed run re-executed by code that now raises is drift, not success", "[host]") {
  HostFixture f;
  const std::string path = f.script("was_fine.lua", "return function(run) return 1 end\n");
  REQUIRE(f.run(path, "run-fine").status == RunStatus::kCompleted);
  const size_t events = f.events("run-fine").size();
  f.script("was_fine.lua", "return function(run) error('now broken') end\n");
  f.restart();
  host::RunOutcome again = f.run(path, "run-fine");
  INFO(text(again.error));
  CHECK(again.status == RunStatus::kCompleted);  // what the ledger says, unchanged
  CHECK(again.error.find("kind")->as_string() == "replay_drift");
  CHECK(again.error.find("message")->as_string().find("now broken") != std::string::npos);
  CHECK(kernel::exit_code_for(again.status, ErrorKind::kReplayDrift) == 4);
  CHECK(f.events("run-fine").size() == events);
}

}  // namespace
}  // namespace artana::testing
