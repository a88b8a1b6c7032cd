// artana.agent's context: the system message and its token budget (agent.context), and
// compaction of older turns (agent.compaction): stored once, reused, checked on replay.
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

}  // namespace
}  // namespace artana::testing
