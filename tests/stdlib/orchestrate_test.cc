// artana.orchestrate (stdlib/orchestrate.lua): sequential, concurrent and chat through real
// runs — piping, order under out-of-order completion, round-robin turns, the four kinds of
// node, the orchestrate_node summaries, failures, halts and refused arguments. The graph
// mode and the graph sample are in orchestrate_graph_test.cc.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "stdlib/orchestrate_support.h"

namespace artana::testing::orchestrate {
namespace {

using kernel::Json;
using kernel::RunStatus;
using Lines = std::vector<std::string>;

TEST_CASE("sequential pipes each node's output into the next and returns the last",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("seq.lua", lua(R"lua(
return function(run, input)
  return orchestrate.sequential(run, {
    function(run, x) print("first " .. x) return x + 1 end,
    { name = "double", node = function(run, x) print("double " .. x) run:now() return x * 2 end },
    function(run, x) print("last " .. x) return { result = x } end,
  }, input.n)
end
)lua"));
  host::RunOutcome done = completed(f.run(path, "run-seq", Json::object({{"n", 4}})));
  CHECK(text(done.output) == R"({"result":10})");
  CHECK(f.printed == Lines{"first 4", "double 5", "last 10"});
  // Each node in its scope sequential:<name>, its summary last in it.
  CHECK(node_summaries(f, "run-seq") == Lines{"sequential:1/summary:1 completed",
                                              "sequential:double/summary:1 completed",
                                              "sequential:3/summary:1 completed"});
  CHECK(node_values(f, "run-seq").front() ==
        R"({"mode":"sequential","node":1,"status":"completed"})");
  CHECK(node_values(f, "run-seq")[1] ==
        R"({"mode":"sequential","node":"double","status":"completed"})");
  CHECK(f.count("run-seq", "time_read") == 1);

  // Executed again, everything replays: nothing is appended.
  const size_t events = f.events("run-seq").size();
  CHECK(text(completed(f.run(path, "run-seq", Json::object({{"n", 4}}))).output) ==
        text(done.output));
  CHECK(f.events("run-seq").size() == events);
}

TEST_CASE("concurrent keeps the nodes' order and keys whatever order they finish in",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("conc.lua", lua(R"lua(
artana.model_port("m", function(req)
  print("MODEL " .. req.prompt)
  return { output = { text = req.prompt } }
end)
-- Branches interleave at their syscalls: three model steps finish after one.
local function slow(run, x)
  for i = 1, 3 do run:model { model = "m", prompt = x .. " step " .. i } end
  return x .. " slow"
end
local function fast(run, x)
  run:model { model = "m", prompt = x .. " once" }
  return x .. " fast"
end
return function(run)
  return {
    list = orchestrate.concurrent(run, { slow, fast }, { "a", "b" }),
    keyed = orchestrate.concurrent(run, { zeta = fast, alpha = slow }, { zeta = "z", alpha = "y" }),
    one_at_a_time = orchestrate.concurrent(run, { slow, fast }, { "c", "d" },
                                           { max_concurrency = 1 }),
  }
end
)lua"));
  host::RunOutcome done = completed(f.run(path, "run-conc"));
  CHECK(text(done.output) ==
        R"({"keyed":{"alpha":"y slow","zeta":"z fast"},"list":["a slow","b fast"],)"
        R"("one_at_a_time":["c slow","d fast"]})");
  // The fast node finished first (its summary comes first), and the output kept the order.
  CHECK(printed_with(f, "MODEL a") == Lines{"MODEL a step 1", "MODEL a step 2", "MODEL a step 3"});
  CHECK(printed_with(f, "MODEL ").at(1) == "MODEL b once");
  CHECK(node_summaries(f, "run-conc") ==
        Lines{"concurrent:2/summary:1 completed", "concurrent:1/summary:1 completed",
              "concurrent:zeta/summary:1 completed", "concurrent:alpha/summary:1 completed",
              "concurrent:1/summary:2 completed", "concurrent:2/summary:2 completed"});
  CHECK(printed_with(f, "MODEL ").back() == "MODEL d once");  // max_concurrency = 1: in turn
}

const char kChat[] = R"lua(
local function speaker(name)
  return function(run, input)
    print(name .. " turn " .. input.turn .. " saw " .. #input.transcript .. " after " ..
          input.opening .. " | " .. input.text:gsub("\n\n", " / "))
    return name .. "@" .. input.turn
  end
end
local nodes = { speaker("a"), { name = "b", node = speaker("b") }, speaker("c") }
return function(run, input)
  local options = nil
  if input.case == "max_turns" then options = { max_turns = 5 } end
  if input.case == "stop" then
    options = { max_turns = 8, stop = function(t) return t[#t].message == "c@3" end }
  end
  return orchestrate.chat(run, nodes, "hi", options)
end
)lua";

TEST_CASE("chat goes round-robin over the nodes, each seeing the transcript so far",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("chat.lua", lua(kChat));
  host::RunOutcome done = completed(f.run(path, "run-chat", Json::object({{"case", "max_turns"}})));
  CHECK(text(done.output) ==
        R"([{"message":"a@1","node":1,"turn":1},{"message":"b@2","node":"b","turn":2},)"
        R"({"message":"c@3","node":3,"turn":3},{"message":"a@4","node":1,"turn":4},)"
        R"({"message":"b@5","node":"b","turn":5}])");
  CHECK(f.printed == Lines{"a turn 1 saw 0 after hi | hi", "b turn 2 saw 1 after hi | hi / 1: a@1",
                           "c turn 3 saw 2 after hi | hi / 1: a@1 / b: b@2",
                           "a turn 4 saw 3 after hi | hi / 1: a@1 / b: b@2 / 3: c@3",
                           "b turn 5 saw 4 after hi | hi / 1: a@1 / b: b@2 / 3: c@3 / 1: a@4"});
  CHECK(node_summaries(f, "run-chat") ==
        Lines{"chat:1/summary:1 completed", "chat:b/summary:1 completed",
              "chat:3/summary:1 completed", "chat:1/summary:2 completed",
              "chat:b/summary:2 completed"});
  CHECK(node_values(f, "run-chat").back() ==
        R"({"mode":"chat","node":"b","status":"completed","turn":5})");
}

TEST_CASE("chat ends when stop says so, and after 10 turns without max_turns",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("chat.lua", lua(kChat));
  host::RunOutcome stopped = completed(f.run(path, "run-stop", Json::object({{"case", "stop"}})));
  CHECK(stopped.output.size() == 3);
  CHECK(f.printed.size() == 3);
  CHECK(summaries_of(f, "run-stop", "orchestrate_node").size() == 3);

  host::RunOutcome all = completed(f.run(path, "run-default", Json::object({{"case", "none"}})));
  REQUIRE(all.output.size() == 10);
  CHECK(text(all.output.as_array().back()) == R"({"message":"a@10","node":1,"turn":10})");
}

TEST_CASE("a function, an agent, a harness and a child run are nodes of one pipeline",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  f.script("worker.lua", R"lua(
return function(run, input)
  print("CHILD " .. input.reviewed)
  run:now()
  return { published = input.reviewed }
end
)lua");
  const std::string path = f.script("kinds.lua", lua(R"lua(
local agent = require "artana.agent"
local harness = require "artana.harness"
artana.model_port("writer", function(req)
  local prompt = req.messages[#req.messages].content
  print("WRITER " .. prompt)
  return { output = { text = "draft of " .. prompt } }
end)
local writer = agent.new { name = "writer", model = "writer" }
local review = harness.base { name = "review", step = function(h, ctx)
  print("HARNESS " .. ctx.input.text)
  return { reviewed = ctx.input.text }
end }
return function(run, input)
  return orchestrate.sequential(run, {
    function(run, topic) return { text = "notes on " .. topic } end,
    { name = "writer", node = writer },
    { name = "review", node = review },
    { name = "publish", node = { child = "worker.lua", caps = { "notes:read" } } },
  }, input.topic)
end
)lua"));
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.tenant.capabilities = {"notes:read", "notes:write"};
  host::RunOutcome done =
      completed(f.run(path, "run-kinds", Json::object({{"topic", "ledgers"}}), options));
  // The agent's prompt is the input's text and its value its answer's output; the harness
  // gets that value; the child gets the harness's.
  CHECK(text(done.output) == R"({"published":"draft of notes on ledgers"})");
  CHECK(f.printed == Lines{"WRITER notes on ledgers", "HARNESS draft of notes on ledgers",
                           "CHILD draft of notes on ledgers"});
  CHECK(node_summaries(f, "run-kinds") ==
        Lines{"sequential:1/summary:1 completed", "sequential:writer/summary:1 completed",
              "sequential:review/summary:1 completed", "sequential:publish/summary:1 completed"});
  CHECK(f.count("run-kinds", "model_completed") == 1);
  CHECK(summaries_of(f, "run-kinds", "agent_model_step")
            .front()
            .payload.find("step_key")
            ->as_string() == "sequential:writer/writer/turn:1/summary:1");
  CHECK(summaries_of(f, "run-kinds", "harness_sleep").size() == 1);
  const std::string child = "run-kinds::child::sequential:publish/child:1";
  auto record = f.kernel_host.kernel->run_record(kernel::TenantId("acme"), kernel::RunId(child));
  REQUIRE(record.ok());
  CHECK(record->tenant.capabilities == std::vector<std::string>{"notes:read"});
  CHECK(f.count(child, "run_completed") == 1);
}

TEST_CASE("a failing node's error propagates after its failed summary, and later nodes never run",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("fail.lua", lua(R"lua(
return function(run)
  local ok, err = pcall(orchestrate.sequential, run, {
    function(run, x) run:now() return x end,
    { name = "broken", node = function() error({ kind = "permanent_error", message = "no luck" }) end },
    function() print("never") end,
  }, 1)
  return { ok = ok, kind = err.kind, message = err.message }
end
)lua"));
  host::RunOutcome done = completed(f.run(path, "run-fail"));
  CHECK(text(done.output) == R"({"kind":"permanent_error","message":"no luck","ok":false})");
  CHECK(f.printed.empty());
  CHECK(node_summaries(f, "run-fail") ==
        Lines{"sequential:1/summary:1 completed", "sequential:broken/summary:1 failed"});
  CHECK(node_values(f, "run-fail").back() ==
        R"({"error":{"kind":"permanent_error","message":"no luck"},"mode":"sequential",)"
        R"("node":"broken","status":"failed"})");
}

const char kDrifting[] = R"lua(
artana.model_port("m", function(req)
  print("MODEL " .. req.prompt)
  return { output = { text = req.prompt } }
end)
return function(run)
  return orchestrate.sequential(run, {
    function(run) return run:model { model = "m", prompt = "plan a" }.output.text end,
    function(run, plan) return plan .. " " .. run:pause("go?", {}) end,
  })
end
)lua";

TEST_CASE("a halt in a node propagates untouched, with no failed summary",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("drift.lua", lua(kDrifting));
  REQUIRE(f.run(path, "run-drift").status == RunStatus::kPaused);
  // The code changes under the recorded model step of node 1: replay_drift, a halt.
  std::string edited = lua(kDrifting);
  edited.replace(edited.find("plan a"), 6, "plan b");
  f.script("drift.lua", edited);
  REQUIRE(f.kernel_host.kernel
              ->resume(kernel::TenantId("acme"), kernel::RunId("run-drift"), Json("yes"))
              .ok());
  host::RunOutcome halted = f.run(path, "run-drift");
  REQUIRE(halted.status == RunStatus::kNeedsAttention);
  CHECK(halted.error.find("kind")->as_string() == "replay_drift");
  CHECK(halted.error.find("step_key")->as_string() == "sequential:1/model:1");
  CHECK(node_summaries(f, "run-drift") == Lines{"sequential:1/summary:1 completed"});

  // The code fixed, the run goes on from its pause.
  f.script("drift.lua", lua(kDrifting));
  CHECK(text(completed(f.run(path, "run-drift")).output) == R"("plan a yes")");
  CHECK(printed_with(f, "MODEL") == Lines{"MODEL plan a"});
  CHECK(node_summaries(f, "run-drift") ==
        Lines{"sequential:1/summary:1 completed", "sequential:2/summary:1 completed"});
}

TEST_CASE("orchestrate refuses bad nodes, names and options by name before any node runs",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("refuse.lua", lua(R"lua(
local function n(run, x) print("ran") return x end
local function why(fn, ...)
  local ok, err = pcall(fn, ...)
  return ok and "ok" or err.kind .. ": " .. err.message
end
return function(run)
  local o = orchestrate
  return {
    why(o.sequential, {}, { n }, 1),
    why(o.sequential, run, {}, 1),
    why(o.sequential, run, { n, 42 }, 1),
    why(o.sequential, run, { { name = "a", node = n, extra = 1 } }, 1),
    why(o.sequential, run, { n, { name = "a/b", node = n } }, 1),
    why(o.sequential, run, { { name = "a", node = n }, { name = "a", node = n } }, 1),
    why(o.sequential, run, { n, { child = "worker.lua", cap = { "x" } } }, 1),
    why(o.sequential, run, { { child = "" } }, 1),
    why(o.sequential, run, { { child = "w.lua", caps = "x" } }, 1),
    why(o.concurrent, run, { n, n }, { 1, 2, 3 }),
    why(o.concurrent, run, { n, x = n }, {}),
    why(o.concurrent, run, { n }, {}, { max = 2 }),
    why(o.chat, run, { n }, "hi", { max_turns = 0 }),
    why(o.chat, run, { n }, "hi", { stop = true }),
    why(o.chat, run, { n }, "hi", { turns = 3 }),
  }
end
)lua"));
  host::RunOutcome done = completed(f.run(path, "run-refuse"));
  const std::vector<std::string> expected = {
      "run must be the run object the entry was given",
      "nodes must be a non-empty array of nodes (or {name = ..., node = ...})",
      "nodes[2]: a node is a function(run, input), an agent, a harness or {child = script, "
      "caps = {...}} (got number)",
      "nodes[1]: unknown field 'extra' (name, node)",
      "node name a/b must be a string of 1..89 bytes without '/'",
      "two nodes are named 'a'",
      "nodes[2]: unknown field 'cap' (a child node has child, caps, budget_usd)",
      "nodes[1]: field 'child' must be a non-empty string",
      "nodes[1]: field 'caps' must be an array of strings",
      "inputs[3] names no node",
      "nodes must be an array or keyed by strings, not both",
      "options: unknown field 'max' (max_concurrency)",
      "options: field 'max_turns' must be an integer >= 1",
      "options: field 'stop' must be a function(transcript)",
      "options: unknown field 'turns' (max_turns, stop)",
  };
  const Json::Array& got = done.output.as_array();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("case " << i + 1);
    CHECK_THAT(got[i].as_string(),
               Catch::StartsWith("invalid_argument: orchestrate.") && Catch::Contains(expected[i]));
  }
  CHECK(f.printed.empty());  // nothing ran, not even the nodes before a bad one
  CHECK(summaries_of(f, "run-refuse", "orchestrate_node").empty());
}

}  // namespace
}  // namespace artana::testing::orchestrate
