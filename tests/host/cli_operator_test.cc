// The operator's CLI verbs against a real ledger: status, runs, cancel, reconcile.
#include <catch2/catch.hpp>

#include "artana/kernel/json_parse.h"
#include "support/child_process.h"
#include "support/kernel_fixture.h"
#include "support/run_cli.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

TEST_CASE("artana status, runs and cancel report and change runs with their exit codes",
          "[cli][kernel]") {
  TempDir dir;
  {
    auto store = open_store(dir.str());
    auto opened = open_kernel(*store);
    Kernel& kernel = *opened;
    REQUIRE(kernel.start_run(start_request("a1", "acme")).ok());
    REQUIRE(kernel.start_run(start_request("b1", "globex")).ok());
    REQUIRE(kernel.pause(TenantId("globex"), RunId("b1"), "ask", "a human", Json()).ok());
    REQUIRE(kernel.unload(TenantId("acme"), RunId("a1")).ok());  // release the lease
    REQUIRE(kernel.unload(TenantId("globex"), RunId("b1")).ok());
  }
  const std::string data = "--data " + dir.str();
  auto running = run_cli(data + " status a1");
  CHECK(running.exit_code == 0);
  CHECK_THAT(running.out, Catch::Contains("a1: running (tenant acme"));
  auto paused = run_cli(data + " --json status b1");
  CHECK(paused.exit_code == 3);
  auto doc = parse_json(paused.out);
  REQUIRE(doc.ok());
  CHECK(doc->find("status")->as_string() == "paused");
  CHECK(run_cli(data + " status nope").exit_code == 9);
  CHECK(run_cli(data + " status").exit_code == 2);

  auto all = run_cli(data + " runs");
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out,
             Catch::Contains("a1\tacme\trunning") && Catch::Contains("b1\tglobex\tpaused"));
  auto acme = run_cli(data + " runs --tenant acme");
  CHECK_THAT(acme.out, !Catch::Contains("b1"));
  CHECK(run_cli(data + " runs --status sleepy").exit_code == 2);

  auto cancelled = run_cli(data + " cancel a1 --reason 'wrong input'");
  CHECK(cancelled.exit_code == 0);  // done as asked; the run's own status says cancelled
  CHECK(run_cli(data + " status a1").exit_code == 7);
  auto store = open_store(dir.str());
  auto events = events_of(*store, "a1");
  CHECK(events.back().type == "run_cancelled");
  CHECK(events.back().payload.find("reason")->as_string() == "wrong input");
}

TEST_CASE("artana reconcile settles a tool step left unknown by a killed process",
          "[cli][kernel][tool]") {
  TempDir dir;
  {
    ChildProcess child({ARTANA_KERNEL_CHILD, dir.str(), "pay-run"});
    REQUIRE(child.read_line().rfind("in_tool ", 0) == 0);
    child.kill_hard();
  }
  const std::string data = "--data " + dir.str();
  CHECK(run_cli(data + " reconcile pay-run --step pay").exit_code == 2);
  CHECK(run_cli(data + " reconcile pay-run --step pay --outcome success").exit_code == 2);
  CHECK(run_cli(data + " reconcile pay-run --step nope --retry").exit_code == 9);
  auto done = run_cli(data +
                      " reconcile pay-run --step pay --outcome success --result "
                      "'{\"charged\":42}'");
  INFO(done.out);
  CHECK(done.exit_code == 0);
  auto again = run_cli(data + " reconcile pay-run --step pay --retry");
  CHECK(again.exit_code == 4);  // a known outcome is not reconciled twice
  auto store = open_store(dir.str());
  auto events = events_of(*store, "pay-run");
  REQUIRE(count_type(events, "tool_completed") == 2);  // unknown_outcome, then the decision
  const Event& decided = events.back();
  CHECK(decided.payload.find("outcome")->as_string() == "success");
  CHECK(decided.payload.find("result")->find("charged")->as_integer() == 42);
  CHECK_THAT(decided.payload.find("by")->as_string(), Catch::StartsWith("cli:"));
}
