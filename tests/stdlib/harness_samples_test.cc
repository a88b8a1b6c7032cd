// The harness samples through the CLI: deploy_harness (a wake per resume, killed at every
// syscall and run to its end) and supervisor (a supervisor running itself and a narrower
// child at once, killed at every syscall too). tdd_fix has its own file,
// harness_tdd_fix_test.cc.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "stdlib/harness_helpers.h"

namespace artana::testing {
namespace {

using namespace harness_testing;

const char kDeploy[] =
    "deploy_harness/deploy_harness.lua --run-id rel-1 "
    "--input '{\"service\": \"billing\", \"version\": \"2.4.0\"}'";

const char kDeployed[] =
    R"({"done":2,"failed":0,"units":[)"
    R"({"attempts":0,"description":"build and push the service's image","id":"build",)"
    R"("state":"done"},{"attempts":0,"description":"roll the new image out to production",)"
    R"("id":"deploy","state":"done"}]})";

TEST_CASE("deploy_harness: a wake per resume, each stage deployed once", "[stdlib][harness]") {
  Cli cli;
  CliRun built = cli("--json run " + sample(kDeploy));
  REQUIRE(built.exit_code == 3);
  CHECK(str(result_of(built).find("status")) == "paused");
  CHECK(occurrences(cli.printed(), "DEPLOYED build ") == 1);
  CHECK(occurrences(cli.printed(), "DEPLOYED deploy ") == 0);
  CliRun deployed = cli("--json resume rel-1");
  REQUIRE(deployed.exit_code == 0);
  CHECK(text(*result_of(deployed).find("output")) == kDeployed);
  CHECK(occurrences(cli.printed(), "DEPLOYED build ") == 1);
  CHECK(occurrences(cli.printed(), "DEPLOYED deploy ") == 1);
  CHECK(occurrences(cli.printed(), "planner called for ") == 2);
  const std::vector<Json> events = exported(cli, "rel-1");
  size_t tools = 0;
  for (const Json& e : events) tools += str(e.find("type")) == "tool_completed";
  CHECK(tools == 2);
  CHECK(summary_values(events, "artifact::stage/deploy") ==
        std::vector<std::string>{R"({"ok":true,"plan":"roll billing 2.4.0 out to production"})"});
  CHECK(cli("ledger verify rel-1").exit_code == 0);
}

// Each process of a release killed at each syscall it crosses in turn (the first process,
// then the one that resumes it): run to its end, the release deploys each stage once and
// asks the planner once per stage.
TEST_CASE("deploy_harness: killed at any syscall, the release still deploys each stage once",
          "[stdlib][harness]") {
  const std::string run = "--json run " + sample(kDeploy);
  for (const bool kill_resume : {false, true}) {
    INFO((kill_resume ? "the resume" : "the run") << " killed");
    const int kills = kill_at_each_crossing("syscall", [&](const Env& crash) {
      Cli cli;
      CliRun first = cli(run, kill_resume ? Env{} : crash);
      const bool first_killed = first.exit_code == kKilled;
      if (first_killed) first = cli(run);
      REQUIRE(first.exit_code == 3);
      CliRun second = cli("--json resume rel-1", kill_resume ? crash : Env{});
      const bool second_killed = second.exit_code == kKilled;
      if (second_killed) second = cli(run);
      REQUIRE(second.exit_code == 0);
      CHECK(text(*result_of(second).find("output")) == kDeployed);
      CHECK(occurrences(cli.printed(), "DEPLOYED build ") == 1);
      CHECK(occurrences(cli.printed(), "DEPLOYED deploy ") == 1);
      CHECK(occurrences(cli.printed(), "planner called for ") == 2);
      return kill_resume ? second_killed : first_killed;
    });
    CHECK(kills + kCrossingStride >
          10);  // each process crosses more syscalls than that: kills did happen
  }
}

// ---- supervisor ----

const char kSupervisor[] =
    "supervisor/supervisor.lua --run-id sup-1 --policy enforced --caps deploy:write,notes:write "
    "--input '{\"service\": \"billing\", \"version\": \"2.4.0\"}'";

const char kReleased[] =
    R"({"notes":"What is new in billing 2.4.0: faster invoices.",)"
    R"("plan":"canary 10%, then all of billing","published":true,"shipped":"billing 2.4.0",)"
    R"("summary":"released billing 2.4.0 with its notes"})";

size_t count_type(const std::vector<Json>& events, const std::string& type) {
  size_t n = 0;
  for (const Json& e : events) n += str(e.find("type")) == type;
  return n;
}

// The payloads of sup-1's child_started events: the children it started, in order.
std::vector<Json> children_started(Cli& cli) {
  std::vector<Json> out;
  for (const Json& e : exported(cli, "sup-1"))
    if (str(e.find("type")) == "child_started") out.push_back(*e.find("payload"));
  return out;
}

// Each model port called once (or once more when a killed process lost its call's result:
// `killed_err` is that process's log, `left` the ledger it left), each side effect made
// once, each child started once.
void check_released_once(Cli& cli, const std::string& killed_err = "",
                         const std::vector<Json>& left = {}) {
  for (const auto& [marker, model] :
       {std::pair<std::string, std::string>{"planner called", "deploy-planner"},
        {"notes writer called", "notes-writer"},
        {"lead called", "release-lead"}}) {
    INFO(model);
    CHECK(occurrences(cli.printed(), marker) ==
          1 + sample_cli::lost_calls(killed_err, marker, left, model));
  }
  CHECK(occurrences(cli.printed(), "SHIPPED billing 2.4.0 ") == 1);
  CHECK(occurrences(cli.printed(), "PUBLISHED ") == 1);
  const std::vector<Json> children = children_started(cli);
  REQUIRE(children.size() == 2);
  for (const Json& child : children) {
    const std::string id = str(child.find("child_run_id"));
    INFO("child " << id);
    CHECK(count_type(exported(cli, id), "run_started") == 1);
  }
}

TEST_CASE("supervisor: the deployer and a narrower notes writer run at once, each once",
          "[stdlib][harness][supervisor]") {
  Cli cli;
  CliRun released = cli("--json run " + sample(kSupervisor));
  INFO(released.err);
  REQUIRE(released.exit_code == 0);
  CHECK(text(*result_of(released).find("output")) == kReleased);
  check_released_once(cli);
  // The notes writer holds notes:write only: its model is never offered `ship`.
  CHECK(occurrences(cli.printed(), "notes writer called, offered: publish_notes\n") == 1);
  const std::vector<Json> children = children_started(cli);
  REQUIRE(children.size() == 2);
  CHECK(str(children[0].find("script")) == "deployer.lua");
  CHECK(text(*children[0].find("capabilities")) == R"(["deploy:write","notes:write"])");
  CHECK(str(children[1].find("script")) == "notes.lua");
  CHECK(text(*children[1].find("capabilities")) == R"(["notes:write"])");
  const std::vector<Json> events = exported(cli, "sup-1");
  std::vector<std::string> summaries = summary_values(events, "supervisor_child");
  std::sort(summaries.begin(), summaries.end());
  std::vector<std::string> expected;
  for (const Json& child : children) {
    expected.push_back(R"({"run_id":")" + str(child.find("child_run_id")) + R"(","script":")" +
                       str(child.find("script")) + R"(","status":"completed"})");
  }
  std::sort(expected.begin(), expected.end());
  CHECK(summaries == expected);
  CHECK(cli("ledger verify").exit_code == 0);

  // Run again: the supervisor and its children replay; nothing is called or appended.
  CliRun again = cli("--json run " + sample(kSupervisor));
  REQUIRE(again.exit_code == 0);
  CHECK(text(*result_of(again).find("output")) == kReleased);
  CHECK(occurrences(again.err, " called") == 0);
  CHECK(exported(cli, "sup-1").size() == events.size());
  check_released_once(cli);

  // A supervisor without notes:write cannot give it: the notes writer has no run.
  std::string narrow = kSupervisor;
  narrow.replace(narrow.find("sup-1"), 5, "sup-2");
  narrow.replace(narrow.find("deploy:write,notes:write"), 24, "deploy:write");
  CliRun refused = cli("--json run " + sample(narrow));
  CHECK(refused.exit_code == 6);
  CHECK(str(result_of(refused).find("error")->find("kind")) == "capability_denied");
  CliRun runs = cli("runs");
  CHECK(occurrences(runs.out, "sup-2::child::release/wake:1/1/child:1") == 1);
  CHECK(occurrences(runs.out, "sup-2::child::release/wake:1/2/child:1") == 0);
}

// What an operator does when children's side effects were in flight as their process died
// (the children run at once, so a kill at a syscall of one may land during the other's tool
// call, or during both): the kernel halts such a child (reconciliation_required, exit 4, named
// in the supervisor's error) rather than guess. Each halt says what to do. A cut step is
// settled: the tool prints its idempotency key when it acts, so if the killed process printed
// it (`killed_output`), the effect happened and is recorded as a success; otherwise the call
// is retried. Then its run is resumed, which executes the supervisor again (a child executes
// through its top-most ancestor) until it ends or halts on the other child's cut step. A
// supervisor that names the child it waits for (invalid_state) has that child resumed. Each
// cut step is settled once. Returns the last execution and the steps settled, in order.
struct Settled {
  CliRun done;
  std::vector<CutStep> steps;
};

Settled settle(Cli& cli, CliRun halted, const std::string& killed_output) {
  Settled out{std::move(halted), {}};
  for (int round = 0; out.done.exit_code != 0 && round < 8; ++round) {
    INFO(out.done.out << out.done.err);
    REQUIRE(out.done.exit_code == 4);
    const Json error = *result_of(out.done).find("error");
    if (str(error.find("kind")) != "reconciliation_required") {
      const std::string waited = sample_cli::child_needing_attention(error);
      INFO(kernel::canonical_json(error).value());
      REQUIRE(!waited.empty());
      out.done = cli("--json resume '" + waited + "'");
      continue;
    }
    const CutStep cut = cut_step(error);
    for (const CutStep& before : out.steps)
      CHECK(!(before.run == cut.run && before.step == cut.step));
    out.steps.push_back(cut);
    std::string tool, key;
    for (const Json& e : exported(cli, cut.run)) {
      const Json& payload = *e.find("payload");
      if (str(e.find("type")) != "tool_requested" || str(payload.find("step_key")) != cut.step)
        continue;
      tool = str(payload.find("request")->find("tool"));
      key = str(payload.find("idempotency_key"));
    }
    REQUIRE(!key.empty());
    const std::string result =
        tool == "ship" ? R"({"shipped":"billing 2.4.0"})" : R"({"published":true})";
    const std::string decision = occurrences(killed_output, key) > 0
                                     ? "--outcome success --result '" + result + "'"
                                     : std::string("--retry");
    REQUIRE(cli("reconcile '" + cut.run + "' --step " + cut.step + " " + decision).exit_code == 0);
    out.done = cli("--json resume '" + cut.run + "'");
  }
  return out;
}

// The release killed at each syscall its process crosses in turn (the supervisor's and its
// children's: they run in one process), then run again (settled by an operator when a side
// effect's outcome was lost): the same release, each model call and side effect once, each
// child started once.
TEST_CASE("supervisor: killed at any syscall, the release goes on with its children, each once",
          "[stdlib][harness][supervisor]") {
  const std::string run = "--json run " + sample(kSupervisor);
  const int kills = kill_at_each_crossing("syscall", [&](const Env& crash) {
    Cli cli;
    const CliRun killed = cli(run, crash);
    CliRun done = killed;
    std::vector<Json> left;
    if (killed.exit_code == kKilled) {
      left = exported(cli, "", /*may_be_missing=*/true);
      done = cli(run);
    }
    if (done.exit_code == 4) done = settle(cli, done, killed.err).done;
    INFO(cli.printed());
    REQUIRE(done.exit_code == 0);
    CHECK(text(*result_of(done).find("output")) == kReleased);
    check_released_once(cli, killed.exit_code == kKilled ? killed.err : "", left);
    CHECK(cli("ledger verify").exit_code == 0);
    return killed.exit_code == kKilled;
  });
  CHECK(kills + kCrossingStride >
        10);  // the release crosses more syscalls than that: kills did happen
}

// Killed as the second child's tool starts (tool.start:2), the process leaves both children's
// side effects requested and not run. The operator settles them one at a time: executed again,
// the supervisor halts on one child's (exit 4); a retry and a resume of that child take the
// supervisor on until it halts on the other's. Executed again instead of that child, the
// supervisor names the child it waits for (invalid_state, exit 4), whose resume says what it
// needs; settled the same way, its resume takes the supervisor to its end. Each effect runs
// once, each model is called once. (The children halt in either order, so the supervisor may
// name either first, and name the child it waits for before or after the other's cut step.)
TEST_CASE("supervisor: both children's side effects cut by one kill are settled one at a time",
          "[stdlib][harness][supervisor]") {
  const std::string run = "--json run " + sample(kSupervisor);
  // The children's tools run at once: when the second starts, the first's fn has usually not
  // run yet, but on a loaded machine it may have. A fresh ledger is tried until one kill
  // cuts both (each try is independent).
  // Under a sanitizer the order may always differ: then the case is left to the other builds.
  std::unique_ptr<Cli> fresh;
  std::string killed_output;
  for (int attempt = 1; !fresh; ++attempt) {
    if (attempt > 5) {
      WARN("no kill at tool.start:2 cut both children's effects in 5 tries: not exercised here");
      return;
    }
    auto tried = std::make_unique<Cli>();
    const CliRun killed = (*tried)(run, sample_cli::crash_at("tool.start", 2));
    REQUIRE(killed.exit_code == kKilled);
    if (occurrences(tried->printed(), "SHIPPED ") + occurrences(tried->printed(), "PUBLISHED ") ==
        0) {
      fresh = std::move(tried);
      killed_output = killed.err;
    }
  }
  Cli& cli = *fresh;
  // Neither effect ran, so each cut step is retried. The children halt at once, in either
  // order, so which of the two the supervisor names first varies.
  const Settled settled_run = settle(cli, cli(run), killed_output);
  const std::vector<CutStep>& settled = settled_run.steps;
  const CliRun& done = settled_run.done;
  REQUIRE(settled.size() == 2);
  const CutStep& first = settled[0];
  const CutStep& second = settled[1];
  CHECK(second.run != first.run);
  INFO(cli.printed());
  REQUIRE(done.exit_code == 0);
  CHECK(text(*result_of(done).find("output")) == kReleased);
  std::vector<std::string> children = {first.run, second.run};
  std::sort(children.begin(), children.end());
  CHECK(children == std::vector<std::string>{"sup-1::child::release/wake:1/1/child:1",
                                             "sup-1::child::release/wake:1/2/child:1"});
  check_released_once(cli);
  CHECK(cli("ledger verify").exit_code == 0);
}

}  // namespace
}  // namespace artana::testing
