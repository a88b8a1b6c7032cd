// artana.agent's memory and reach: experience rules per tenant (agent.experience,
// auto_reflect), skills whose tools appear once loaded (agent.skill), and the constructors'
// refusals of bad fields.
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
