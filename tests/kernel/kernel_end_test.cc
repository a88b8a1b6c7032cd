// How an execution ends (Kernel::end_execution), and what a live step's failure means: the
// kernel decides, the host only reports.
#include <catch2/catch.hpp>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

ExecutionEnd returned(Json output) {
  return {ExecutionEnd::Kind::kReturned, std::move(output), {}};
}
ExecutionEnd raised(std::string kind) {
  return {ExecutionEnd::Kind::kRaised, Json(),
          Json::object({{"kind", std::move(kind)}, {"message", "it broke"}})};
}
ExecutionEnd killed(std::string kind) {
  return {ExecutionEnd::Kind::kKilled, Json(),
          Json::object({{"kind", std::move(kind)}, {"message", "stopped"}})};
}

size_t count(KernelHost& host, const std::string& type) {
  return count_type(events_of(*host.store, "r1"), type);
}

}  // namespace

TEST_CASE("an execution that returns completes the run, one that raises fails it",
          "[kernel][end]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto end = host.kernel->end_execution(kAcme, RunId("r1"), returned(Json("done")));
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kCompleted);
  CHECK(end->output == Json("done"));
  CHECK(count(host, "run_completed") == 1);
  // Executed again: it stays completed, whatever the new execution does.
  host.reopen();
  end = host.kernel->end_execution(kAcme, RunId("r1"), raised("script_error"));
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kCompleted);
  CHECK(count(host, "run_failed") == 0);

  KernelHost other;
  REQUIRE(other.kernel->start_run(start_request("r1")).ok());
  end = other.kernel->end_execution(kAcme, RunId("r1"), raised("script_error"));
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kFailed);
  CHECK(count(other, "run_failed") == 1);
}

TEST_CASE("an error while recorded steps are still ahead holds the run for attention",
          "[kernel][end]") {
  KernelHost host;
  ScriptedModel port;
  start_run_with_step(host, port, "r1", "a", "x");
  host.reopen();  // a new execution: step "a" is ahead of the script
  auto end = host.kernel->end_execution(kAcme, RunId("r1"), raised("script_error"));
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kNeedsAttention);
  CHECK(count(host, "run_halted") == 1);
  CHECK(count(host, "run_failed") == 0);
}

TEST_CASE("a halt the script caught keeps the run halted when its entry returns", "[kernel][end]") {
  KernelHost host;
  StartRunRequest start = start_request("r1");
  REQUIRE(host.kernel->start_run(start).ok());
  ScriptedModel port;
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "x"), port).ok());
  host.reopen();
  // Strict drift halts; the script catches it and returns.
  CHECK(
      run_model(*host.kernel, "acme", "r1", prompt_request("a", "changed"), port).status().kind() ==
      "replay_drift");
  auto end = host.kernel->end_execution(kAcme, RunId("r1"), returned(Json("fine")));
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kNeedsAttention);
  CHECK(end->error.find("kind")->as_string() == "replay_drift");
  CHECK(count(host, "run_completed") == 0);
}

TEST_CASE("a killed execution fails the run, a host failure holds it", "[kernel][end]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto end = host.kernel->end_execution(kAcme, RunId("r1"), killed("limit_exceeded"));
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kFailed);
  KernelHost other;
  REQUIRE(other.kernel->start_run(start_request("r1")).ok());
  end = other.kernel->end_execution(kAcme, RunId("r1"), killed("internal"));
  REQUIRE(end.ok());
  CHECK(end->status == RunStatus::kNeedsAttention);
  CHECK(count(other, "run_failed") == 0);
}

TEST_CASE(
    "a model output that misses the step's schema is recorded as its failure, live and "
    "on replay, retry_failed asks again",
    "[kernel][end][model]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ModelRequest request = prompt_request("a", "x");
  request.output_schema = Json::object({{"type", "object"}, {"required", Json::array({"ok"})}});
  ScriptedModel port;  // answers {"text": ...}: no "ok"
  auto live = run_model(*host.kernel, "acme", "r1", request, port);
  CHECK(live.status().kind() == "model_output_invalid");
  CHECK(count(host, "model_failed") == 1);
  host.reopen();
  auto replayed = run_model(*host.kernel, "acme", "r1", request, port);
  CHECK(replayed.status().kind() == "model_output_invalid");
  CHECK(port.calls == 1);
  request.retry_failed = true;
  port.answer = [](const ModelCall&) {
    ModelOutcome out;
    out.output = Json::object({{"ok", true}});
    out.cost_micro_usd = 10;
    return out;
  };
  auto retried = run_model(*host.kernel, "acme", "r1", request, port);
  REQUIRE(retried.ok());
  CHECK(retried->output == Json::object({{"ok", true}}));
  // A schema that is not a schema is refused before the call is made.
  ModelRequest broken = prompt_request("b", "y");
  broken.output_schema = Json::object({{"type", "strng"}});
  CHECK(run_model(*host.kernel, "acme", "r1", broken, port).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(port.calls == 2);
}

TEST_CASE(
    "a side effect that fails without saying nothing happened halts for reconciliation, "
    "live as on replay",
    "[kernel][end][tool]") {
  for (bool side_effect : {true, false}) {
    KernelHost host;
    REQUIRE(
        host.kernel->tools()
            .add({"charge", "charges", Json::object({{"type", "object"}}), "1", "", side_effect})
            .ok());
    REQUIRE(host.kernel->start_run(start_request("r1")).ok());
    ToolRequest request;
    request.step_key = "pay";
    request.tool = "charge";
    auto step = host.kernel->begin_tool(kAcme, RunId("r1"), request);
    REQUIRE(step.ok());
    ToolOutcome raised_error{ToolOutcomeKind::kPermanentError, Json(), "a bug in the tool"};
    raised_error.declared = false;
    auto live = host.kernel->finish_tool(std::move(step->pending), raised_error);
    const std::string expected = side_effect ? "reconciliation_required" : "tool_failed";
    CHECK(live.status().kind() == expected);
    host.reopen();
    REQUIRE(
        host.kernel->tools()
            .add({"charge", "charges", Json::object({{"type", "object"}}), "1", "", side_effect})
            .ok());
    CHECK(host.kernel->begin_tool(kAcme, RunId("r1"), request).status().kind() == expected);
  }
}

TEST_CASE("a run that ends gives up its lease in the same commit as its end",
          "[kernel][end][lease]") {
  KernelHost host;
  ScriptedModel port;
  start_run_with_step(host, port, "r1", "a", "go");
  auto running = host.store->head(RunId("r1"));
  REQUIRE(running.ok());
  CHECK_FALSE(running->lease.owner_id.empty());  // the executing kernel holds it
  const uint64_t epoch = running->lease.epoch;
  auto ended = host.kernel->end_execution(TenantId("acme"), RunId("r1"),
                                          {ExecutionEnd::Kind::kReturned, Json("done")});
  REQUIRE(ended.ok());
  CHECK(ended->status == RunStatus::kCompleted);
  auto after = host.store->head(RunId("r1"));
  REQUIRE(after.ok());
  CHECK(after->lease.owner_id.empty());  // released with run_completed, still loaded here
  CHECK(after->lease.epoch == epoch);    // kept: a late append of this owner is fenced
  CHECK(after->head_seq == running->head_seq + 1);
}
