// artana.agent (stdlib/agent.lua): the turn loop, tool calls, acceptance gates and the
// verifier, the context message, compaction, experience and skills — through the real
// sandbox on a real ledger, with Lua model ports that print every request they receive.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "artana/kernel/sha256.h"
#include "stdlib/stdlib_fixture.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

// A module the test scripts require: ports that print each request as
// `<port> request: {"messages": ..., "tools": [names], "schema": ...}` and answer from a list
// (the last answer repeats; an answer may be a function of the request).
const char kPorts[] = R"lua(
local artana = require "artana"
local M = {}
function M.scripted(name, answers)
  local n = 0
  artana.model_port(name, function(req)
    n = n + 1
    local tools = {}
    for i, tool in ipairs(req.tools) do tools[i] = tool.name end
    print(name .. " request: " .. artana.canonical_json { messages = req.messages,
      tools = artana.array(tools), schema = req.schema })
    local answer = answers[math.min(n, #answers)]
    if type(answer) == "function" then answer = answer(req, n) end
    return answer
  end)
end
return M
)lua";

// HostFixture with the stdlib and the ports module beside its scripts.
struct AgentFixture : HostFixture {
  explicit AgentFixture(host::HostOptions options = {})
      : HostFixture(stdlib_options(std::move(options))) {
    script("agent_ports.lua", kPorts);
  }
};

// The requests port `port` printed, in order.
std::vector<Json> requests(const HostFixture& f, const std::string& port) {
  std::vector<Json> out;
  const std::string prefix = port + " request: ";
  for (const std::string& line : f.printed) {
    if (line.rfind(prefix, 0) != 0) continue;
    auto parsed = kernel::parse_json(line.substr(prefix.size()));
    REQUIRE(parsed.ok());
    out.push_back(std::move(*parsed));
  }
  return out;
}

size_t printed(const HostFixture& f, const std::string& line) {
  return static_cast<size_t>(std::count(f.printed.begin(), f.printed.end(), line));
}

const Json::Array& messages(const Json& request) { return request.find("messages")->as_array(); }

std::string content(const Json& request, size_t i) {
  return messages(request).at(i).find("content")->as_string();
}

std::string last_content(const Json& request) {
  return messages(request).back().find("content")->as_string();
}

std::string tools(const Json& request) { return text(*request.find("tools")); }

std::vector<Json> summary_values(HostFixture& f, const std::string& run, const std::string& kind) {
  std::vector<Json> out;
  for (const kernel::Event& e : summaries_of(f, run, kind)) out.push_back(*e.payload.find("value"));
  return out;
}

// The step keys of the events of `type`, in order.
std::vector<std::string> step_keys(HostFixture& f, const std::string& run,
                                   const std::string& type) {
  std::vector<std::string> out;
  for (const kernel::Event& e : f.events(run)) {
    const Json* key = e.payload.find("step_key");
    if (e.type == type && key != nullptr) out.push_back(key->as_string());
  }
  return out;
}

// The tool names of the run's tool_requested events, in order.
std::vector<std::string> tools_requested(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : f.events(run))
    if (e.type == "tool_requested") out.push_back(e.payload.find("tool")->as_string());
  return out;
}

host::RunOutcome completed(host::RunOutcome outcome) {
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  return outcome;
}

host::RunOptions with_caps(std::vector<std::string> caps, const char* tenant = "acme") {
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId(tenant);
  options.tenant.capabilities = std::move(caps);
  return options;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// ---- the loop and its tool calls ----

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

TEST_CASE("the system message holds identity, prompt, plan, learnings, units, events and skills",
          "[agent][stdlib]") {
  TempDir workspace;
  write_file(workspace.path() / "PLAN.md", "1. write tests\n2. ship");
  host::HostOptions options;
  options.workspace = workspace.str();
  AgentFixture f(options);
  const std::string path = f.script("context.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { { output = { text = "ok" } } })
local deploy = agent.skill { name = "deploy", summary = "ships the build", doc = { doc = "Deploy." } }
local exp = agent.experience { category = "coding" }
local ctx = agent.context {
  identity = "You are Ada.", system_prompt = "Fix the bug.", workspace_context_path = "PLAN.md",
  task_state = function() return { { id = "u1", description = "write tests", state = "done" },
                                   { id = 2, description = "ship", state = "todo" } } end,
  recent_events = { kind = "note", limit = 5 },
}
local ada = agent.new { name = "ada", model = "m", context = ctx, experience = exp, skills = { deploy } }
return function(run)
  exp:save(run, { rule_id = "r1", type = "win_pattern", content = "run the tests first" })
  run:summary("note", "deployed v1", { key = "n1" })
  return ada:run(run, "the bug")
end
)lua");
  completed(f.run(path, "run-context", Json::object(), with_caps({"workspace:read"})));
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 1);
  REQUIRE(messages(sent[0]).size() == 2);
  CHECK(content(sent[0], 0) ==
        "You are Ada.\n\nFix the bug.\n\n"
        "Workspace Context / Active Plan:\n1. write tests\n2. ship\n\n"
        "Learnings:\n- [win_pattern] run the tests first\n\n"
        "Task State:\n- [done] u1: write tests\n- [todo] 2: ship\n\n"
        "Recent Events:\n- n1: deployed v1\n\n"
        "Skills (call the load_skill tool with {name} to get a skill's instructions and "
        "tools):\n- deploy: ships the build");
  CHECK(text(messages(sent[0])[1]) == R"({"content":"the bug","role":"user"})");
}

TEST_CASE("over its token budget the context drops recent events, then learnings, then the plan",
          "[agent][stdlib]") {
  TempDir workspace;
  write_file(workspace.path() / "PLAN.md", std::string(400, 'w'));
  host::HostOptions options;
  options.workspace = workspace.str();
  AgentFixture f(options);
  const std::string path = f.script("budget.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { { output = { text = "ok" } } })
local exp = agent.experience { category = "budget" }
return function(run, input)
  exp:save(run, { rule_id = "r", type = "fact", content = string.rep("l", 400) })
  run:summary("event", string.rep("e", 400), { key = "k" })
  local a = agent.new { name = "b", model = "m", experience = exp, context = agent.context {
    identity = "ID", workspace_context_path = "PLAN.md", recent_events = { kind = "event" },
    token_budget = input.budget } }
  return a:run(run, "T")
end
)lua");
  // About 1 300 characters in all (325 tokens); each section is about 110 tokens.
  struct Case {
    int budget;
    bool workspace, learnings, recent;
  };
  for (const Case& c : {Case{1000, true, true, true}, Case{300, true, true, false},
                        Case{200, true, false, false}, Case{50, false, false, false}}) {
    INFO("budget " << c.budget);
    f.printed.clear();
    completed(f.run(path, "run-budget-" + std::to_string(c.budget),
                    Json::object({{"budget", c.budget}}), with_caps({"workspace:read"})));
    const std::vector<Json> sent = requests(f, "m");
    REQUIRE(sent.size() == 1);
    const std::string system = content(sent[0], 0);
    CHECK_THAT(system, Catch::StartsWith("ID"));
    CHECK((system.find("Workspace Context / Active Plan:\nwww") != std::string::npos) ==
          c.workspace);
    CHECK((system.find("Learnings:\n- [fact] lll") != std::string::npos) == c.learnings);
    CHECK((system.find("Recent Events:\n- k: eee") != std::string::npos) == c.recent);
  }
}

TEST_CASE("a missing or empty workspace file leaves its section out", "[agent][stdlib]") {
  TempDir workspace;
  write_file(workspace.path() / "EMPTY.md", "");
  host::HostOptions options;
  options.workspace = workspace.str();
  AgentFixture f(options);
  const std::string path = f.script("plan.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { { output = { text = "ok" } } })
return function(run, input)
  local a = agent.new { name = "p", model = "m", context = agent.context {
    system_prompt = "P", workspace_context_path = input.plan } }
  return a:run(run, "T")
end
)lua");
  for (const char* plan : {"NOPE.md", "EMPTY.md"}) {
    INFO(plan);
    f.printed.clear();
    const std::string run = std::string("run-plan-") + plan;
    completed(f.run(path, run, Json::object({{"plan", plan}}), with_caps({"workspace:read"})));
    const std::vector<Json> sent = requests(f, "m");
    REQUIRE(sent.size() == 1);
    CHECK(content(sent[0], 0) == "P");
    CHECK(tools_requested(f, run) == std::vector<std::string>{"artana.read_file"});
  }
}

// ---- compaction ----

// Turns of `note` calls (one, two, three) until the tool replies STOP, then an answer; the
// port answers from the request alone, so two runs of the agent see the same conversation.
// Compaction is due past 4 messages and keeps 1.
const char kCompaction[] = R"lua(
local artana = require "artana"
local agent = require "artana.agent"
local ports = require "agent_ports"
artana.tool { name = "note", args = { text = "string" },
              fn = function(args) return { noted = args.text } end }
local STOP = '{"noted":"%s"}'
local NEXT = { Go = "one", ['{"noted":"one"}'] = "two", ['{"noted":"two"}'] = "three" }
ports.scripted("m", { function(req)
  local last = req.messages[#req.messages].content
  if last == STOP then return { output = { text = "done" } } end
  local word = NEXT[last]
  return { output = { text = "noting " .. word },
           tool_calls = { { name = "note", arguments = { text = word } } } }
end })
local summaries = 0
ports.scripted("summarizer", { function()
  summaries = summaries + 1
  return { output = { summary = "summary #" .. summaries } }
end })
local a = agent.new { name = "long", model = "m", tools = { "note" },
  compaction = agent.compaction { trigger_messages = 4, keep_recent = 1, model = "summarizer" } }
return function(run, input)
  local first = a:run(run, "Go")
  if input.pause then run:pause("review") end
  if not input.twice then return first end
  return { first = first, second = a:run(run, "Go") }
end
)lua";

std::string compaction_script(const std::string& stop) {
  std::string source = kCompaction;
  source.replace(source.find("%s"), 2, stop);
  return source;
}

// The assistant message asking for note{text = word} and the tool's reply, as the agent
// puts them into the history in turn `turn`.
std::vector<Json> note_pair(int turn, const std::string& word) {
  const std::string id = "call_" + std::to_string(turn) + "_1";
  return {
      Json::object(
          {{"role", "assistant"},
           {"content", "noting " + word},
           {"tool_calls",
            Json::array({Json::object(
                {{"id", id}, {"name", "note"}, {"arguments", Json::object({{"text", word}})}})})}}),
      Json::object(
          {{"role", "tool"}, {"tool_call_id", id}, {"content", "{\"noted\":\"" + word + "\"}"}})};
}

Json history(std::vector<Json> items) {
  Json out = Json::array();
  for (Json& item : items) out.push_back(std::move(item));
  return out;
}

Json user(const std::string& content) {
  return Json::object({{"role", "user"}, {"content", content}});
}

TEST_CASE("compaction at the trigger summarises older turns, and a re-execution replays it",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("compaction.lua", compaction_script("three"));
  host::RunOutcome outcome = completed(f.run(path, "run-compact"));
  CHECK(outcome.output.find("turns")->as_integer() == 4);
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 4);
  const std::vector<Json> one = note_pair(1, "one"), two = note_pair(2, "two"),
                          three = note_pair(3, "three");
  CHECK(text(*sent[1].find("messages")) == text(history({user("Go"), one[0], one[1]})));
  // Turn 3: 5 messages > 4. keep_recent = 1 alone would keep only turn 2's tool reply; its
  // assistant message stays with it, so the window is turn 1's pair.
  CHECK(text(*sent[2].find("messages")) ==
        text(history({user("Go"), user("Past Events Summary: summary #1"), two[0], two[1]})));
  // Turn 4: the first summary is part of the next window.
  CHECK(text(*sent[3].find("messages")) ==
        text(history({user("Go"), user("Past Events Summary: summary #2"), three[0], three[1]})));
  const std::vector<Json> summarised = requests(f, "summarizer");
  REQUIRE(summarised.size() == 2);
  CHECK_THAT(last_content(summarised[0]),
             Catch::Contains("[assistant] noting one") &&
                 Catch::Contains("[tool call_1_1] {\"noted\":\"one\"}") &&
                 !Catch::Contains("noting two"));
  CHECK_THAT(last_content(summarised[1]),
             Catch::Contains("[user] Past Events Summary: summary #1") &&
                 Catch::Contains("noting two") && !Catch::Contains("noting three"));
  CHECK(step_keys(f, "run-compact", "model_completed")[2] == "long/turn:3/compaction/model:1");

  const std::vector<Json> artifacts =
      summary_values(f, "run-compact", "artifact::agent_compaction");
  REQUIRE(artifacts.size() == 2);
  auto canonical = kernel::canonical_json(Json::object(
      {{"version", 1}, {"model", "summarizer"}, {"window", history({one[0], one[1]})}}));
  REQUIRE(canonical.ok());
  CHECK(text(artifacts[0]) ==
        text(Json::object({{"model", "summarizer"},
                           {"summary", "summary #1"},
                           {"version", 1},
                           {"window_hash", kernel::Sha256::of(*canonical).hex()}})));
  CHECK(artifacts[1].find("summary")->as_string() == "summary #2");

  // Another process executes the run again: every step replays, no port is called.
  const size_t events = f.events("run-compact").size();
  f.restart(stdlib_options());
  f.printed.clear();
  host::RunOutcome again = completed(f.run(path, "run-compact"));
  CHECK(text(again.output) == text(outcome.output));
  CHECK(requests(f, "summarizer").empty());
  CHECK(requests(f, "m").empty());
  CHECK(f.events("run-compact").size() == events);
  const std::vector<Json> replayed = summary_values(f, "run-compact", "artifact::agent_compaction");
  REQUIRE(replayed.size() == 2);
  CHECK(text(replayed[0]) == text(artifacts[0]));
  CHECK(text(replayed[1]) == text(artifacts[1]));
}

TEST_CASE("a compaction window that changed since the run recorded it is replay_drift",
          "[agent][stdlib]") {
  AgentFixture f;
  std::string source = compaction_script("three");
  const std::string path = f.script("window.lua", source);
  REQUIRE(f.run(path, "run-window", Json::object({{"pause", true}})).status == RunStatus::kPaused);
  REQUIRE(requests(f, "summarizer").size() == 2);
  // keep_recent = 0 moves turn 2's pair into turn 3's window: the compaction's recorded
  // request no longer matches.
  source.replace(source.find("keep_recent = 1"), 15, "keep_recent = 0");
  f.script("window.lua", source);
  f.restart(stdlib_options());
  f.printed.clear();
  host::RunOutcome outcome = f.run(path, "run-window", Json::object({{"pause", true}}));
  INFO(text(outcome.error));
  CHECK(outcome.status == RunStatus::kNeedsAttention);
  CHECK(outcome.error.find("kind")->as_string() == "replay_drift");
  CHECK(outcome.error.find("step_key")->as_string() == "long/turn:3/compaction/model:1");
  CHECK(requests(f, "summarizer").empty());
}

TEST_CASE("an unchanged window reuses the stored summary with no model call", "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("reuse.lua", compaction_script("two"));
  host::RunOutcome outcome = completed(f.run(path, "run-reuse", Json::object({{"twice", true}})));
  CHECK(text(*outcome.output.find("first")) == R"({"output":{"text":"done"},"turns":3})");
  CHECK(text(*outcome.output.find("second")) == text(*outcome.output.find("first")));
  CHECK(requests(f, "summarizer").size() == 1);
  CHECK(summaries_of(f, "run-reuse", "artifact::agent_compaction").size() == 1);
  CHECK(f.count("run-reuse", "artifact_read") == 2);
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 6);
  CHECK(content(sent[5], 1) == "Past Events Summary: summary #1");
  CHECK(text(sent[5]) == text(sent[2]));
}

// ---- experience ----

TEST_CASE("experience rules are saved, reinforced and ranked by score then age",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("learn.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { { output = { text = "ok" } } })
local exp = agent.experience { category = "coding" }
local a = agent.new { name = "learner", model = "m", experience = exp }
return function(run)
  exp:save(run, { rule_id = "old", type = "fact", content = "the CI is slow" })
  exp:save(run, { rule_id = "win", type = "win_pattern", content = "run the tests first" })
  exp:save(run, { rule_id = "bad", type = "anti_pattern", content = "edit generated files" })
  exp:save(run, { rule_id = "new", type = "fact", content = "the repo uses tabs" })
  exp:reinforce(run, "win", true)
  exp:reinforce(run, "win", true)
  exp:reinforce(run, "bad", false)
  local ok, err = pcall(exp.reinforce, exp, run, "missing", true)
  a:run(run, "go")
  return err.kind .. ": " .. err.message
end
)lua");
  host::RunOutcome outcome = completed(f.run(path, "run-learn"));
  CHECK(outcome.output.as_string() ==
        "invalid_argument: experience:reinforce: no rule 'missing' in category 'coding'");
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 1);
  // win scores 2; new and old 0 (new is newer); bad -1.
  CHECK(content(sent[0], 0) ==
        "Learnings:\n- [win_pattern] run the tests first\n- [fact] the repo uses tabs\n"
        "- [fact] the CI is slow\n- [anti_pattern] edit generated files");
  const std::vector<kernel::Event> saved = summaries_of(f, "run-learn", "experience::coding");
  REQUIRE(saved.size() == 7);
  for (const kernel::Event& e : saved)
    CHECK(e.payload.find("key")->as_string() ==
          e.payload.find("value")->find("rule_id")->as_string());
  CHECK(text(*saved[5].payload.find("value")) ==
        R"({"content":"run the tests first","fail_count":0,"rule_id":"win",)"
        R"("success_count":2,"type":"win_pattern"})");
  CHECK(saved[6].payload.find("value")->find("fail_count")->as_integer() == 1);
}

TEST_CASE("experience never crosses tenants", "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("tenants.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { { output = { text = "ok" } } })
local exp = agent.experience { category = "ops" }
local a = agent.new { name = "t", model = "m", experience = exp }
return function(run, input)
  if input.save then
    exp:save(run, { rule_id = "secret", type = "fact", content = "acme's rule" })
    return "saved"
  end
  return a:run(run, "go")
end
)lua");
  completed(f.run(path, "run-a-save", Json::object({{"save", true}})));
  host::RunOptions b;
  b.tenant.tenant_id = kernel::TenantId("b");
  completed(f.run(path, "run-b", Json::object(), b));
  completed(f.run(path, "run-a-read"));
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 2);
  CHECK(text(*sent[0].find("messages")) == R"([{"content":"go","role":"user"}])");
  CHECK(content(sent[1], 0) == "Learnings:\n- [fact] acme's rule");
}

TEST_CASE("auto_reflect saves the rules a reflection step answers, and the next run reads them",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("reflect.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { function(req)
  if req.messages[1].content:find("You reflect", 1, true) then
    return { output = { rules = { { rule_id = "r-tabs", type = "fact", content = "the repo uses tabs" } } } }
  end
  return { output = { text = "indented" } }
end })
local exp = agent.experience { category = "style" }
local a = agent.new { name = "learner", model = "m", experience = exp, auto_reflect = true }
return function(run) return a:run(run, "indent the file") end
)lua");
  completed(f.run(path, "run-reflect-1"));
  std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 2);
  CHECK_THAT(content(sent[1], 0), Catch::StartsWith("You reflect on an agent's finished task."));
  CHECK(content(sent[1], 1) ==
        "Task:\nindent the file\n\nOutcome:\nAccepted after 1 turn(s). Final answer:\nindented"
        "\n\nKnown rules:\n(none)");
  CHECK(sent[1].find("schema")->find("properties")->find("rules") != nullptr);
  CHECK(step_keys(f, "run-reflect-1", "model_completed")[1] == "learner/reflect/model:1");
  const std::vector<kernel::Event> saved = summaries_of(f, "run-reflect-1", "experience::style");
  REQUIRE(saved.size() == 1);
  CHECK(saved[0].payload.find("key")->as_string() == "r-tabs");
  CHECK(text(*saved[0].payload.find("value")) ==
        R"({"content":"the repo uses tabs","fail_count":0,"rule_id":"r-tabs",)"
        R"("success_count":0,"type":"fact"})");

  f.printed.clear();
  completed(f.run(path, "run-reflect-2"));
  sent = requests(f, "m");
  REQUIRE(sent.size() == 2);
  CHECK(content(sent[0], 0) == "Learnings:\n- [fact] the repo uses tabs");
  CHECK_THAT(content(sent[1], 1),
             Catch::EndsWith("Known rules:\n- r-tabs [fact] the repo uses tabs"));
}

// ---- skills ----

TEST_CASE("a skill's tools are hidden and refused until load_skill, then offered",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string doc = "# Deploy\nRun deploy with {env}.\n";
  f.script("skills/deploy.md", doc);
  const std::string path = f.script("skills.lua", R"lua(
local artana = require "artana"
local agent = require "artana.agent"
local ports = require "agent_ports"
artana.tool { name = "status", fn = function() return { up = true } end }
artana.tool { name = "deploy", args = { env = "string" },
              fn = function(args) print("DEPLOYED " .. args.env) return { deployed = args.env } end }
local deploy = agent.skill { name = "deploy", summary = "ships the build", doc = "skills/deploy.md",
                             tools = { "deploy" } }
local guide = agent.skill { name = "guide", summary = "house style",
                            doc = { doc = "Write short answers." } }
ports.scripted("m", {
  { output = { text = "" }, tool_calls = { { id = "d0", name = "deploy", arguments = { env = "prod" } } } },
  { output = { text = "" }, tool_calls = { { id = "l1", name = "load_skill", arguments = { name = "deploy" } },
                                           { id = "l2", name = "load_skill", arguments = { name = "guide" } },
                                           { id = "l3", name = "load_skill", arguments = { name = "nope" } } } },
  { output = { text = "" }, tool_calls = { { id = "d1", name = "deploy", arguments = { env = "prod" } } } },
  { output = { text = "deployed" } },
})
local ops = agent.new { name = "ops", model = "m", tools = { "status" }, skills = { deploy, guide } }
return function(run) return ops:run(run, "ship it") end
)lua");
  completed(f.run(path, "run-skills"));
  const std::vector<Json> sent = requests(f, "m");
  REQUIRE(sent.size() == 4);
  CHECK(tools(sent[0]) == R"(["status","load_skill"])");
  CHECK(content(sent[0], 0) ==
        "Skills (call the load_skill tool with {name} to get a skill's instructions and "
        "tools):\n- deploy: ships the build\n- guide: house style");
  CHECK(tools(sent[1]) == R"(["status","load_skill"])");
  CHECK(content(sent[1], 3) ==
        R"({"error":"tool 'deploy' belongs to skill 'deploy', which is not loaded: call )"
        R"(load_skill with {name = \"deploy\"} first"})");
  CHECK(tools(sent[2]) == R"(["status","load_skill","deploy"])");
  CHECK(content(sent[2], 5) == doc);
  CHECK(content(sent[2], 6) == "Write short answers.");
  CHECK(content(sent[2], 7) == R"x({"error":"no skill named 'nope' (skills: deploy, guide)"})x");
  CHECK_THAT(content(sent[2], 0), Catch::EndsWith("- deploy: ships the build (loaded)\n"
                                                  "- guide: house style (loaded)"));
  CHECK(content(sent[3], 9) == R"({"deployed":"prod"})");
  CHECK(printed(f, "DEPLOYED prod") == 1);
  // load_skill is answered by the agent: only the doc's read and the loaded tool are steps.
  CHECK(tools_requested(f, "run-skills") ==
        std::vector<std::string>{"artana.read_script_file", "deploy"});
  const std::vector<Json> loaded = summary_values(f, "run-skills", "skill_loaded");
  REQUIRE(loaded.size() == 2);
  CHECK(text(loaded[0]) ==
        text(Json::object({{"name", "deploy"}, {"sha256", kernel::Sha256::of(doc).hex()}})));
  CHECK(text(loaded[1]) ==
        text(Json::object(
            {{"name", "guide"}, {"sha256", kernel::Sha256::of("Write short answers.").hex()}})));
  std::vector<std::string> outcomes;
  for (const Json& v : summary_values(f, "run-skills", "agent_tool_step"))
    outcomes.push_back(v.find("tool")->as_string() + " " + v.find("outcome")->as_string());
  CHECK(outcomes == std::vector<std::string>{"deploy refused", "load_skill success",
                                             "load_skill success", "load_skill failed",
                                             "deploy success"});
}

// ---- constructors ----

TEST_CASE("the agent's constructors refuse unknown, mistyped and missing fields by name",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("refusals.lua", R"lua(
local agent = require "artana.agent"
local ports = require "agent_ports"
ports.scripted("m", { { output = { text = "ok" } } })
local skill = agent.skill { name = "s", summary = "a skill", doc = { doc = "text" } }
local function refusal(fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then return "accepted" end
  return err.kind .. ": " .. err.message
end
return function(run)
  local exp = agent.experience { category = "c" }
  local a = agent.new { name = "a", model = "m" }
  return {
    refusal(agent.new, {}),
    refusal(agent.new, { name = "a" }),
    refusal(agent.new, { name = "a", model = "m", max_iteration = 3 }),
    refusal(agent.new, { name = "a", model = "m", max_iterations = 0 }),
    refusal(agent.new, { name = "a/b", model = "m" }),
    refusal(agent.new, { name = "a", model = "m", tools = "x" }),
    refusal(agent.new, { name = "a", model = "m", acceptance = { { tool = "x" } } }),
    refusal(agent.new, { name = "a", loop = { verify_model = "v" } }),
    refusal(agent.new, { name = "a", loop = { draft_model = "d", verfy_model = "v" } }),
    refusal(agent.new, { name = "a", model = "m", auto_reflect = true }),
    refusal(agent.new, { name = "a", model = "m", context = { identity = "x" } }),
    refusal(agent.new, { name = "a", model = "m", skills = { skill, skill } }),
    refusal(agent.tool_gate, {}),
    refusal(agent.tool_gate, { tool = "t", must_pass = "yes" }),
    refusal(agent.tool_gate, { tool = "t", equals = 1 }),
    refusal(agent.context, { token_budget = -1 }),
    refusal(agent.context, { task_state = { { id = "u", description = "d" } } }),
    refusal(agent.context, { recent_events = { limit = 5 } }),
    refusal(agent.compaction, { trigger_messages = "40" }),
    refusal(agent.compaction, { keep_recnt = 3 }),
    refusal(agent.experience, {}),
    refusal(exp.save, exp, run, { rule_id = "r", type = "tip", content = "c" }),
    refusal(agent.skill, { name = "s", summary = "x" }),
    refusal(a.run, a, run, ""),
    refusal(a.run, run, "task"),
  }
end
)lua");
  host::RunOutcome outcome = completed(f.run(path, "run-refusals"));
  const std::vector<std::string> named = {
      "missing required field 'name'",
      "missing required field 'model'",
      "unknown field 'max_iteration'",
      "field 'max_iterations' must be an integer >= 1",
      "field 'name' must be a string of 1..100 bytes without '/'",
      "field 'tools' must be an array of non-empty strings",
      "field 'acceptance' must be an array of agent.tool_gate",
      "loop: missing required field 'draft_model'",
      "loop: unknown field 'verfy_model'",
      "auto_reflect needs the field 'experience'",
      "field 'context' must be an agent.context",
      "two skills are named 's'",
      "agent.tool_gate: missing required field 'tool'",
      "field 'must_pass' must be a boolean",
      "field 'equals' needs a 'path'",
      "field 'token_budget' must be an integer >= 1",
      "task_state[1]: missing required field 'state'",
      "recent_events: missing required field 'kind'",
      "field 'trigger_messages' must be an integer >= 1",
      "unknown field 'keep_recnt'",
      "agent.experience: missing required field 'category'",
      "field 'type' must be \"win_pattern\", \"anti_pattern\" or \"fact\"",
      "agent.skill: missing required field 'doc'",
      "prompt must be a non-empty string",
      "a:run(run, prompt), with a colon",
  };
  const Json::Array& results = outcome.output.as_array();
  REQUIRE(results.size() == named.size());
  for (size_t i = 0; i < named.size(); ++i) {
    INFO(i << ": " << results[i].as_string());
    CHECK_THAT(results[i].as_string(),
               Catch::StartsWith("invalid_argument: ") && Catch::Contains(named[i]));
  }
}

TEST_CASE("agent.skill in the entry is refused when no skill registered load_skill before",
          "[agent][stdlib]") {
  AgentFixture f;
  const std::string path = f.script("late.lua", R"lua(
local agent = require "artana.agent"
return function(run)
  local ok, err = pcall(agent.skill, { name = "late", summary = "x", doc = "late.md" })
  return err.kind .. ": " .. err.message
end
)lua");
  host::RunOutcome outcome = completed(f.run(path, "run-late"));
  CHECK_THAT(outcome.output.as_string(),
             Catch::StartsWith("invalid_argument: agent.skill registers the load_skill tool") &&
                 Catch::Contains("top level"));
}

}  // namespace
}  // namespace artana::testing
