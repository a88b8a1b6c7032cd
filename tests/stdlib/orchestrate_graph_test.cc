// orchestrate.graph (stdlib/orchestrate/graph.lua): waves of ready nodes, ties by name,
// predecessor inputs, graph_invalid before anything is recorded, a failing child node, a
// crash and resume that redoes no finished node — and samples/graph through the CLI, killed
// at every syscall it crosses.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "stdlib/orchestrate_support.h"
#include "support/sample_cli.h"

namespace artana::testing::orchestrate {
namespace {

using kernel::Json;
using kernel::RunStatus;
using Lines = std::vector<std::string>;

TEST_CASE("graph runs ready nodes in waves, ties by name, each given its predecessors' outputs",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("waves.lua", lua(R"lua(
artana.model_port("m", function(req)
  print("MODEL " .. req.prompt)
  return { output = { text = req.prompt } }
end)
-- A node that makes `steps` model steps: more steps, later done.
local function node(name, steps)
  return function(run, input)
    print("start " .. name .. " " .. artana.canonical_json(input))
    for i = 1, steps do run:model { model = "m", prompt = name .. " " .. i } end
    return name:upper()
  end
end
return function(run, input)
  return orchestrate.graph(run, {
    nodes = { s = node("s", 0), a = node("a", 3), b = node("b", 0), c = node("c", 1),
              d = node("d", 0), x = node("x", 0) },
    edges = { { "s", "a" }, { from = "s", to = "b" }, { "s", "c" }, { "b", "x" }, { "a", "d" },
              { "c", "d" } },
    start = "s",
  }, input)
end
)lua"));
  host::RunOutcome done = completed(f.run(path, "run-waves", Json::object({{"n", 1}})));
  CHECK(text(done.output) == R"({"a":"A","b":"B","c":"C","d":"D","s":"S","x":"X"})");
  // Wave 2 starts in name order; x, which needs only b, still waits for the whole wave.
  CHECK(printed_with(f, "start") == Lines{"start s {\"n\":1}", "start a {\"s\":\"S\"}",
                                          "start b {\"s\":\"S\"}", "start c {\"s\":\"S\"}",
                                          "start d {\"a\":\"A\",\"c\":\"C\"}",
                                          "start x {\"b\":\"B\"}"});
  // Within wave 2 the nodes finish as their steps allow (b, c, a): they ran at once.
  CHECK(node_summaries(f, "run-waves") ==
        Lines{"graph:s/summary:1 completed", "graph:b/summary:1 completed",
              "graph:c/summary:1 completed", "graph:a/summary:1 completed",
              "graph:d/summary:1 completed", "graph:x/summary:1 completed"});
  CHECK(printed_with(f, "MODEL") == Lines{"MODEL a 1", "MODEL c 1", "MODEL a 2", "MODEL a 3"});
}

const char kInvalid[] = R"lua(
local function n(run, x) run:now() return x end
local cases = {
  unknown_node = { nodes = { a = n, b = n }, edges = { { "a", "b" }, { "b", "c" } }, start = "a" },
  unknown_start = { nodes = { a = n, b = n }, edges = { { "a", "b" } }, start = "z" },
  cycle = { nodes = { a = n, b = n, c = n, d = n },
            edges = { { "a", "b" }, { "b", "c" }, { "c", "b" }, { "c", "d" } }, start = "a" },
  unreachable = { nodes = { a = n, b = n, c = n }, edges = { { "a", "b" } }, start = "a" },
  twice = { nodes = { a = n, b = n }, edges = { { "a", "b" }, { from = "a", to = "b" } },
            start = "a" },
}
return function(run, input)
  if input.case == "baseline" then artana.fail("graph_invalid", "before any step") end
  return orchestrate.graph(run, cases[input.case], 1)
end
)lua";

TEST_CASE("an unknown node or start, a cycle or an unreachable node is graph_invalid, unrecorded",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("invalid.lua", lua(kInvalid));
  host::RunOutcome baseline = f.run(path, "run-baseline", Json::object({{"case", "baseline"}}));
  REQUIRE(baseline.status == RunStatus::kFailed);
  const size_t unstepped = f.events("run-baseline").size();  // start, script, failed
  const std::map<std::string, std::string> cases = {
      {"unknown_node", "edge #2 names an unknown node 'c'"},
      {"unknown_start", "start 'z' is not a node"},
      {"cycle", "the edges make a cycle: b -> c -> b"},
      {"unreachable", "start 'a' cannot reach the nodes c"},
      {"twice", "edge a -> b is listed twice"},
  };
  for (const auto& [name, message] : cases) {
    INFO(name);
    host::RunOutcome outcome = f.run(path, "run-" + name, Json::object({{"case", name}}));
    REQUIRE(outcome.status == RunStatus::kFailed);
    CHECK(outcome.error.find("kind")->as_string() == "graph_invalid");
    CHECK_THAT(outcome.error.find("message")->as_string(), Catch::Contains(message));
    CHECK(f.events("run-" + name).size() == unstepped);
    CHECK(f.count("run-" + name, "time_read") == 0);
  }
}

TEST_CASE("a child node that fails is child_failed, after its failed summary",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  f.script("worker.lua", R"lua(
return function(run, input)
  if input.plan.fail then error({ kind = "permanent_error", message = "the worker gave up" }) end
  return "fine"
end
)lua");
  const std::string path = f.script("child.lua", lua(R"lua(
return function(run, input)
  return orchestrate.graph(run, {
    nodes = { plan = function(run, x) return x end, work = { child = "worker.lua" },
              after = function() print("never") end },
    edges = { { "plan", "work" }, { "work", "after" } },
    start = "plan",
  }, { fail = true })
end
)lua"));
  host::RunOutcome failed = f.run(path, "run-child");
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(failed.error.find("kind")->as_string() == "child_failed");
  CHECK_THAT(failed.error.find("message")->as_string(), Catch::Contains("the worker gave up"));
  CHECK(f.printed.empty());
  CHECK(node_summaries(f, "run-child") ==
        Lines{"graph:plan/summary:1 completed", "graph:work/summary:1 failed"});
  CHECK(f.count("run-child::child::graph:work/child:1", "run_failed") == 1);
}

TEST_CASE("a graph paused in a node resumes in another process without redoing finished nodes",
          "[orchestrate][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("pausing.lua", lua(R"lua(
artana.model_port("m", function(req)
  print("MODEL " .. req.prompt)
  return { output = { text = req.prompt } }
end)
local function ask(run, prompt) return run:model { model = "m", prompt = prompt }.output.text end
return function(run, input)
  return orchestrate.graph(run, {
    nodes = {
      plan = function(run, goal) return ask(run, "plan " .. goal) end,
      left = function(run, p) return ask(run, "left after " .. p.plan) end,
      right = function(run, p)
        local approved = run:pause("approve the right half?", { plan = p.plan })
        return ask(run, "right " .. approved)
      end,
      join = function(run, p) return ask(run, "join " .. p.left .. " + " .. p.right) end,
    },
    edges = { { "plan", "left" }, { "plan", "right" }, { "left", "join" }, { "right", "join" } },
    start = "plan",
  }, input.goal)
end
)lua"));
  REQUIRE(f.run(path, "run-pause", Json::object({{"goal", "g"}})).status == RunStatus::kPaused);
  CHECK(f.printed == Lines{"MODEL plan g", "MODEL left after plan g"});
  CHECK(node_summaries(f, "run-pause") ==
        Lines{"graph:plan/summary:1 completed", "graph:left/summary:1 completed"});

  f.restart(stdlib_options());  // another process: the graph replays up to the pause
  f.printed.clear();
  REQUIRE(f.kernel_host.kernel
              ->resume(kernel::TenantId("acme"), kernel::RunId("run-pause"), Json("approved"))
              .ok());
  host::RunOutcome done = completed(f.run(path, "run-pause"));
  CHECK(text(done.output) ==
        R"({"join":"join left after plan g + right approved","left":"left after plan g",)"
        R"("plan":"plan g","right":"right approved"})");
  CHECK(f.printed ==
        Lines{"MODEL right approved", "MODEL join left after plan g + right approved"});
  CHECK(f.count("run-pause", "model_completed") == 4);
  CHECK(node_summaries(f, "run-pause") ==
        Lines{"graph:plan/summary:1 completed", "graph:left/summary:1 completed",
              "graph:right/summary:1 completed", "graph:join/summary:1 completed"});
}

// ---- samples/graph through the CLI ----

const char kGraphRun[] =
    "--json run graph/graph.lua --run-id graph-1 --input '{\"goal\": \"ship search v2\"}'";

const char kGraphOutput[] = R"({"backend":{"text":"done: build the index for ship search v2"},)"
                            R"("docs":"done: write the user guide for ship search v2",)"
                            R"("plan":{"backend":"build the index for ship search v2",)"
                            R"("docs":"write the user guide for ship search v2"},)"
                            R"("validate":{"approved":true,"note":"both tasks are done"}})";

// Each port of the sample prints "MODEL <port> ..." when it is called.
const char* const kGraphPorts[] = {"planner", "writer", "builder", "validator"};

std::string port_marker(const std::string& port) {
  return "MODEL " + port + (port == "validator" ? "" : " ");
}

// Each port called once, or once more when a killed process lost its call's result
// (`killed_err`: that process's log; `left`: the ledger it left).
void check_each_model_once(const std::string& printed, const std::string& killed_err = "",
                           const std::vector<Json>& left = {}) {
  for (const char* port : kGraphPorts) {
    INFO(port);
    const std::string marker = port_marker(port);
    CHECK(occurrences(printed, marker) ==
          1 + sample_cli::lost_calls(killed_err, marker, left, port));
  }
}

std::string graph_run() {
  std::string args = kGraphRun;
  return args.replace(args.find("graph/graph.lua"), 15, sample_cli::sample("graph/graph.lua"));
}

TEST_CASE("graph sample: planner, two executors (one a child run) and a validator",
          "[orchestrate][stdlib]") {
  sample_cli::Cli cli;
  CliRun first = cli(graph_run());
  REQUIRE(first.exit_code == 0);
  CHECK(text(*sample_cli::result_of(first).find("output")) == kGraphOutput);
  check_each_model_once(cli.printed());
  const std::vector<Json> events = sample_cli::exported(cli, "graph-1");
  CHECK(sample_cli::summary_values(events, "orchestrate_node") ==
        Lines{R"({"mode":"graph","node":"plan","status":"completed"})",
              R"({"mode":"graph","node":"docs","status":"completed"})",
              R"({"mode":"graph","node":"backend","status":"completed"})",
              R"({"mode":"graph","node":"validate","status":"completed"})"});
  CHECK(cli("ledger verify graph-1").exit_code == 0);

  // Run again: everything replays, no port is called, nothing is appended.
  CliRun again = cli(graph_run());
  REQUIRE(again.exit_code == 0);
  CHECK(text(*sample_cli::result_of(again).find("output")) == kGraphOutput);
  CHECK(occurrences(again.err, "MODEL") == 0);
  CHECK(sample_cli::exported(cli, "graph-1").size() == events.size());
}

TEST_CASE("graph sample: killed at any syscall, run again it gives the same output",
          "[orchestrate][stdlib]") {
  const int kills = sample_cli::kill_at_each_crossing("syscall", [](const sample_cli::Env& crash) {
    sample_cli::Cli cli;
    CliRun first = cli(graph_run(), crash);
    const bool killed = first.exit_code == sample_cli::kKilled;
    const std::string killed_err = killed ? first.err : "";
    std::vector<Json> left;
    if (killed) {
      left = sample_cli::exported(cli, "", /*may_be_missing=*/true);
      first = cli(graph_run());
    }
    REQUIRE(first.exit_code == 0);
    CHECK(text(*sample_cli::result_of(first).find("output")) == kGraphOutput);
    check_each_model_once(cli.printed(), killed_err, left);
    CHECK(cli("ledger verify graph-1").exit_code == 0);
    return killed;
  });
  CHECK(kills + sample_cli::kCrossingStride >
        10);  // the graph crosses more syscalls than that: kills did happen
}

}  // namespace
}  // namespace artana::testing::orchestrate
