// artana.agent (stdlib/agent.lua): the turn loop, tool calls, acceptance gates and the
// verifier — through the real sandbox on a real ledger, with Lua model ports that print
// every request they receive.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "artana/kernel/sha256.h"
#include "stdlib/agent_helpers.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

TEST_CASE(
    "the model's tool calls run in order and join the history with the model's ids or call_i_j",
    "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("calc.lua", R"lua(
local artana = require "artana"
local agent = require "artana.agent"
local ports = require "agent_ports"
artana.tool { name = "add", args = { a = "number", b = "number" },
              fn = function(args) print("tool add") return { sum = args.a + args.b } end }
artana.tool { name = "echo", args = { text = "string" },
              fn = function(args) print("tool echo") return { echoed = args.text } end }
ports.scripted("m", {
  { output = { text = "calling" }, tool_calls = {
      { id = "c1", name = "add", arguments = { a = 2, b = 3 } },
      { name = "echo", arguments = { text = "hi" } } } },
  { output = { text = "the sum is 5" } },
})
local calc = agent.new { name = "calc", model = "m", system_prompt = "Be exact.",
                         tools = { "add", "echo" } }
return function(run) return calc:run(run, "Add 2 and 3") end
)lua");
  host::RunOutcome outcome = completed(f.run(path, "run-calc"));
  CHECK(text(outcome.output) == R"({"output":{"text":"the sum is 5"},"turns":2})");
  const auto add_at = std::find(f.printed.begin(), f.printed.end(), "tool add");
  const auto echo_at = std::find(f.printed.begin(), f.printed.end(), "tool echo");
  REQUIRE(add_at != f.printed.end());
  CHECK(add_at < echo_at);

  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 2);
  CHECK(tools(sent[0]) == R"(["add","echo"])");
  CHECK(text(*sent[0].find("messages")) ==
        R"([{"content":"Be exact.","role":"system"},{"content":"Add 2 and 3","role":"user"}])");
  REQUIRE(messages(sent[1]).size() == 5);
  CHECK(text(messages(sent[1])[2]) ==
        R"({"content":"calling","role":"assistant","tool_calls":[)"
        R"({"arguments":{"a":2,"b":3},"id":"c1","name":"add"},)"
        R"({"arguments":{"text":"hi"},"id":"call_1_2","name":"echo"}]})");
  CHECK(text(messages(sent[1])[3]) ==
        R"({"content":"{\"sum\":5}","role":"tool","tool_call_id":"c1"})");
  CHECK(text(messages(sent[1])[4]) ==
        R"({"content":"{\"echoed\":\"hi\"}","role":"tool","tool_call_id":"call_1_2"})");

  CHECK(step_keys(f, "run-calc", "model_completed") ==
        std::vector<std::string>{"calc/turn:1/model:1", "calc/turn:2/model:1"});
  CHECK(step_keys(f, "run-calc", "tool_requested") ==
        std::vector<std::string>{"calc/turn:1/tool:1", "calc/turn:1/tool:2"});
  const std::vector<Json> model_steps = summary_values(f, "run-calc", "agent_model_step");
  REQUIRE(model_steps.size() == 2);
  CHECK(model_steps[0].find("tool_calls")->as_integer() == 2);
  CHECK(model_steps[0].find("turn")->as_integer() == 1);
  CHECK(model_steps[0].find("model")->as_string() == "m");
  CHECK(model_steps[1].find("tool_calls")->as_integer() == 0);
  const std::vector<Json> tool_steps = summary_values(f, "run-calc", "agent_tool_step");
  REQUIRE(tool_steps.size() == 2);
  CHECK(text(tool_steps[0]) ==
        R"({"agent":"calc","id":"c1","outcome":"success","tool":"add","turn":1})");
  CHECK(text(tool_steps[1]) ==
        R"({"agent":"calc","id":"call_1_2","outcome":"success","tool":"echo","turn":1})");
}

TEST_CASE("a failing tool and a tool the agent does not offer go back to the model as replies",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("flaky.lua", R"lua(
local artana = require "artana"
local agent = require "artana.agent"
local ports = require "agent_ports"
artana.tool { name = "flaky", fn = function() error("disk on fire") end }
ports.scripted("m", {
  { output = { text = "" }, tool_calls = { { id = "a", name = "flaky" },
                                           { id = "b", name = "rm_rf", arguments = { path = "/" } } } },
  { output = { text = "gave up" } },
})
local a = agent.new { name = "ops", model = "m", tools = { "flaky" } }
return function(run) return a:run(run, "clean up") end
)lua");
  host::RunOutcome outcome = completed(f.run(path, "run-flaky"));
  CHECK(outcome.output.find("turns")->as_integer() == 2);
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 2);
  auto failed = kernel::parse_json(content(sent[1], 2));
  REQUIRE(failed.ok());
  const Json* error = failed->find("error");
  REQUIRE(error != nullptr);
  CHECK(error->find("kind")->as_string() == "tool_failed");
  CHECK_THAT(error->find("message")->as_string(), Catch::Contains("disk on fire"));
  CHECK(content(sent[1], 3) == R"({"error":"tool 'rm_rf' is not offered to this agent"})");
  CHECK(tools_requested(f, "run-flaky") == std::vector<std::string>{"flaky"});
  const std::vector<Json> steps = summary_values(f, "run-flaky", "agent_tool_step");
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].find("outcome")->as_string() == "failed");
  CHECK(steps[1].find("outcome")->as_string() == "refused");
}

// ---- acceptance ----

TEST_CASE("a failing must_pass gate refuses the candidate and its result reaches the next request",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("gates.lua", R"lua(
local artana = require "artana"
local agent = require "artana.agent"
local ports = require "agent_ports"
local runs = 0
artana.tool { name = "run_tests", fn = function()
  runs = runs + 1
  if runs == 1 then return { passed = false, failures = { "t1" } } end
  return { ok = true }
end }
artana.tool { name = "build", fn = function() return { exit_code = 0 } end }
artana.tool { name = "lint", fn = function() return { exit_code = 1 } end }
artana.tool { name = "coverage", fn = function() return { summary = { percent = 90 } } end }
ports.scripted("m", { { output = { text = "v1" } }, { output = { text = "v2" } } })
local a = agent.new { name = "coder", model = "m", acceptance = {
  agent.tool_gate { tool = "run_tests" },
  agent.tool_gate { tool = "build" },
  agent.tool_gate { tool = "lint", must_pass = false },
  agent.tool_gate { tool = "coverage", path = "summary.percent", equals = 90 },
} }
return function(run) return a:run(run, "fix it") end
)lua");
  host::RunOutcome outcome = completed(f.run(path, "run-gates"));
  CHECK(text(outcome.output) == R"({"output":{"text":"v2"},"turns":2})");
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 2);
  REQUIRE(messages(sent[1]).size() == 3);
  CHECK(text(messages(sent[1])[1]) == R"({"content":"v1","role":"assistant"})");
  // Only the must_pass gate that failed is the reason: lint need not pass.
  CHECK(last_content(sent[1]) ==
        R"(Your answer was not accepted. Acceptance gate 'run_tests' failed: )"
        R"({"failures":["t1"],"passed":false})");
  std::vector<std::string> gates;
  for (const Json& v : summary_values(f, "run-gates", "agent_acceptance_gate"))
    gates.push_back(std::to_string(v.find("turn")->as_integer()) + " " +
                    v.find("tool")->as_string() + " " +
                    (v.find("passed")->as_bool() ? "passed" : "failed"));
  CHECK(gates == std::vector<std::string>{"1 run_tests failed", "1 build passed", "1 lint failed",
                                          "1 coverage passed", "2 run_tests passed",
                                          "2 build passed", "2 lint failed", "2 coverage passed"});
  CHECK(step_keys(f, "run-gates", "tool_requested").front() == "coder/turn:1/tool:1");
}

TEST_CASE("a gate whose tool fails refuses every candidate until agent_exhausted",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("exhausted.lua", R"lua(
local artana = require "artana"
local agent = require "artana.agent"
local ports = require "agent_ports"
artana.tool { name = "explode", fn = function() error("the test runner crashed") end }
ports.scripted("m", { { output = { text = "done" } } })
local a = agent.new { name = "stuck", model = "m", max_iterations = 3,
                      acceptance = { agent.tool_gate { tool = "explode" } } }
return function(run) return a:run(run, "try") end
)lua");
  host::RunOutcome outcome = f.run(path, "run-stuck");
  REQUIRE(outcome.status == RunStatus::kFailed);
  CHECK(outcome.error.find("kind")->as_string() == "agent_exhausted");
  CHECK_THAT(outcome.error.find("message")->as_string(),
             Catch::Contains("'stuck'") && Catch::Contains("3 turns"));
  CHECK(f.count("run-stuck", "model_completed") == 3);
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 3);
  CHECK_THAT(last_content(sent[2]),
             Catch::StartsWith("Your answer was not accepted. Acceptance gate 'explode' failed: "
                               "tool_failed: ") &&
                 Catch::Contains("the test runner crashed"));
  const std::vector<Json> gates = summary_values(f, "run-stuck", "agent_acceptance_gate");
  REQUIRE(gates.size() == 3);
  for (const Json& gate : gates) CHECK_FALSE(gate.find("passed")->as_bool());
}

TEST_CASE("a gate naming a tool that is not registered fails the run with invalid_argument",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("typo.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { { output = { text = "done" } } })
local a = agent.new { name = "typo", model = "m", acceptance = { agent.tool_gate { tool = "run_tets" } } }
return function(run) return a:run(run, "try") end
)lua");
  host::RunOutcome outcome = f.run(path, "run-typo");
  REQUIRE(outcome.status == RunStatus::kFailed);
  CHECK(outcome.error.find("kind")->as_string() == "invalid_argument");
  CHECK_THAT(outcome.error.find("message")->as_string(), Catch::Contains("run_tets"));
  CHECK(summaries_of(f, "run-typo", "agent_acceptance_gate").empty());
  CHECK(requests(f, "m").size() == 1);
}

TEST_CASE("a verifier's refusal reaches the next draft request and its acceptance ends the loop",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("verify.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("drafter", { { output = { text = "42" } }, { output = { text = "42 m" } } })
ports.scripted("checker", {
  { output = { accepted = false, reasoning = "it forgot the units" } },
  { output = { accepted = true, reasoning = "complete" } },
})
local a = agent.new { name = "dist", loop = { draft_model = "drafter", verify_model = "checker" } }
return function(run) return a:run(run, "How far?") end
)lua");
  host::RunOutcome outcome = completed(f.run(path, "run-verify"));
  CHECK(text(outcome.output) == R"({"output":{"text":"42 m"},"turns":2})");
  const std::vector<Json> drafts = requests(f, "drafter");
  REQUIRE(drafts.size() == 2);
  CHECK(last_content(drafts[1]) ==
        "Your answer was not accepted. The verifier refused it: it forgot the units");
  const std::vector<Json> checks = requests(f, "checker");
  REQUIRE(checks.size() == 2);
  CHECK(last_content(checks[0]) == "Task:\nHow far?\n\nCandidate answer:\n42");
  const Json* schema = checks[0].find("schema");
  REQUIRE(schema != nullptr);
  CHECK(schema->find("properties")->find("accepted")->find("type")->as_string() == "boolean");
  CHECK(schema->find("properties")->find("reasoning")->find("type")->as_string() == "string");
  const std::vector<Json> verdicts = summary_values(f, "run-verify", "agent_verify_step");
  REQUIRE(verdicts.size() == 2);
  CHECK(text(verdicts[0]) == R"({"accepted":false,"agent":"dist","model":"checker",)"
                             R"("reasoning":"it forgot the units","turn":1})");
  CHECK(verdicts[1].find("accepted")->as_bool());
  CHECK(step_keys(f, "run-verify", "model_completed") ==
        std::vector<std::string>{"dist/turn:1/model:1", "dist/turn:1/model:2",
                                 "dist/turn:2/model:1", "dist/turn:2/model:2"});
}

TEST_CASE("a replay drift in a gate's tool step halts the run as replay_drift naming that step",
          "[agent][stdlib]") {
  AgentFixture f;
  const char* source = R"lua(
local artana = require "artana"
local agent = require "artana.agent"
local ports = require "agent_ports"
local LEVEL = %d
artana.tool { name = "check", args = { level = "number" }, fn = function() return { passed = true } end }
ports.scripted("m", { { output = { text = "ok" } } })
local a = agent.new { name = "gated", model = "m",
                      acceptance = { agent.tool_gate { tool = "check", args = { level = LEVEL } } } }
return function(run)
  local result = a:run(run, "go")
  run:pause("review")
  return result
end
)lua";
  char first[1024], second[1024];
  std::snprintf(first, sizeof first, source, 1);
  std::snprintf(second, sizeof second, source, 2);
  const std::string path = f.script("drift.lua", first);
  REQUIRE(f.run(path, "run-drift").status == RunStatus::kPaused);
  CHECK(summaries_of(f, "run-drift", "agent_acceptance_gate").size() == 1);
  f.script("drift.lua", second);
  f.restart(stdlib_options());
  host::RunOutcome outcome = f.run(path, "run-drift");
  INFO(text(outcome.error));
  CHECK(outcome.status == RunStatus::kNeedsAttention);
  CHECK(outcome.error.find("kind")->as_string() == "replay_drift");
  CHECK(outcome.error.find("step_key")->as_string() == "gated/turn:1/tool:1");
  CHECK(summaries_of(f, "run-drift", "agent_acceptance_gate").size() == 1);
  CHECK(requests(f, "m").size() == 1);  // the model step replayed both times
}

// ---- the context message ----

}  // namespace
}  // namespace artana::testing
