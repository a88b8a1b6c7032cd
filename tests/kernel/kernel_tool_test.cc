// Tool steps: two-phase recording, replay, bad arguments, capability denial, and a process
// SIGKILLed in the middle of a side-effecting call, then each reconcile decision.
#include <catch2/catch.hpp>

#include "support/child_process.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

struct Host {
  TempDir dir;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<Kernel> kernel;
  int charges = 0;  // side effects that really happened
  Host() { reopen(); }
  void reopen() {
    kernel.reset();
    store.reset();
    store = open_store(dir.str());
    KernelOptions options;
    options.middleware = {make_capability_guard()};
    kernel = open_kernel(*store, options);
    REQUIRE(kernel->tools()
                .add({"charge", "charges a card",
                      Json::object({{"type", "object"}, {"required", Json::array({"amount"})}}),
                      "1", "", true})
                .ok());
    REQUIRE(kernel->tools()
                .add({"send", "sends mail", Json::object({{"type", "object"}}), "1", "mail", true})
                .ok());
  }
  // begin_tool, and when live, the tool itself and finish_tool.
  Result<ToolResult> call(const std::string& run, const std::string& key, Json args,
                          ToolOutcomeKind outcome = ToolOutcomeKind::kSuccess,
                          std::string* idempotency = nullptr) {
    ToolRequest request;
    request.step_key = key;
    request.tool = "charge";
    request.arguments = std::move(args);
    ARTANA_ASSIGN_OR_RETURN(ToolStep step,
                            kernel->begin_tool(TenantId("acme"), RunId(run), request));
    if (step.replayed) return std::move(*step.replayed);
    ++charges;
    if (idempotency != nullptr) *idempotency = step.call->idempotency_key;
    ToolOutcome done;
    done.kind = outcome;
    done.result = Json::object({{"charged", step.call->arguments.find("amount")->as_integer()}});
    done.error = "card declined";
    return kernel->finish_tool(std::move(step.pending), done);
  }
};

}  // namespace

TEST_CASE("a tool step is requested, then completed, and replays without running again",
          "[kernel][tool]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto live = host.call("r1", "pay", Json::object({{"amount", 42}}));
  REQUIRE(live.ok());
  CHECK_FALSE(live->replayed);
  CHECK(live->result == Json::object({{"charged", 42}}));
  auto events = events_of(*host.store, "r1");
  REQUIRE(events.size() == 3);
  CHECK(events[1].type == "tool_requested");
  CHECK(events[1].payload.find("idempotency_key")->as_string().size() == 64);
  CHECK(events[2].type == "tool_completed");
  CHECK(events[2].payload.find("outcome")->as_string() == "success");

  host.reopen();
  auto replayed = host.call("r1", "pay", Json::object({{"amount", 42}}));
  REQUIRE(replayed.ok());
  CHECK(replayed->replayed);
  CHECK(replayed->result == live->result);
  CHECK(host.charges == 1);
  CHECK(events_of(*host.store, "r1").size() == 3);
  // Other arguments at the same step are drift, like a changed prompt.
  auto drifted = host.call("r1", "pay", Json::object({{"amount", 43}}));
  CHECK(drifted.status().kind() == "replay_drift");
  CHECK_THAT(drifted.status().message(), Catch::Contains("arguments"));
  CHECK(host.charges == 1);
}

TEST_CASE("bad tool arguments are the caller's error and append nothing", "[kernel][tool]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto bad = host.call("r1", "pay", Json::object({{"cents", 42}}));
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  auto not_object = host.call("r1", "pay", Json::array({42}));
  CHECK(not_object.status().code() == StatusCode::kInvalidArgument);
  CHECK(host.charges == 0);
  CHECK(events_of(*host.store, "r1").size() == 1);
  // The step is still open: good arguments then run it.
  REQUIRE(host.call("r1", "pay", Json::object({{"amount", 1}})).ok());
}

TEST_CASE("a tool needing a capability the tenant lacks is refused, audited, and left open",
          "[kernel][tool][capability]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ToolRequest request;
  request.step_key = "mail";
  request.tool = "send";
  auto denied = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), request);
  CHECK(denied.status().kind() == "capability_denied");
  CHECK_THAT(denied.status().message(), Catch::Contains("'mail'"));
  auto events = events_of(*host.store, "r1");
  REQUIRE(count_type(events, "step_denied") == 1);
  CHECK(events.back().payload.find("capability")->as_string() == "mail");
  CHECK(count_type(events, "tool_requested") == 0);
  REQUIRE(host.kernel->grant("ops@acme", RunId("r1"), "mail").ok());
  auto allowed = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), request);
  REQUIRE(allowed.ok());
  CHECK(allowed->call.has_value());
}

TEST_CASE("a transient tool failure replays as failed unless the step asks retry_failed",
          "[kernel][tool]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto failed =
      host.call("r1", "pay", Json::object({{"amount", 5}}), ToolOutcomeKind::kTransientError);
  CHECK(failed.status().kind() == "tool_failed");
  auto again = host.call("r1", "pay", Json::object({{"amount", 5}}));
  CHECK(again.status().kind() == "tool_failed");
  CHECK(host.charges == 1);
  ToolRequest retry;
  retry.step_key = "pay";
  retry.tool = "charge";
  retry.arguments = Json::object({{"amount", 5}});
  retry.retry_failed = true;
  auto step = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), retry);
  REQUIRE(step.ok());
  REQUIRE(step->call.has_value());
  ToolOutcome ok;
  ok.result = Json::object({{"charged", 5}});
  REQUIRE(host.kernel->finish_tool(std::move(step->pending), ok).ok());
  CHECK(*host.kernel->status(TenantId("acme"), RunId("r1")) == RunStatus::kRunning);
}

TEST_CASE(
    "a process killed mid-tool leaves an unknown outcome that each reconcile decision "
    "settles",
    "[kernel][tool][crash]") {
  Host host;
  const std::vector<std::string> runs = {"retry", "success", "failed", "abandon"};
  std::map<std::string, std::string> keys;
  host.kernel.reset();
  host.store.reset();
  for (const std::string& run : runs) {
    ChildProcess child({ARTANA_KERNEL_CHILD, host.dir.str(), run});
    std::string line = child.read_line();
    INFO(line);
    REQUIRE(line.rfind("in_tool ", 0) == 0);
    keys[run] = line.substr(8);
    child.kill_hard();
  }
  host.reopen();
  for (const std::string& run : runs) {
    INFO(run);
    auto halted = host.call(run, "pay", Json::object({{"amount", 42}}));
    CHECK(halted.status().kind() == "reconciliation_required");
    CHECK(halted.status().step_key() == "pay");
    auto events = events_of(*host.store, run);
    REQUIRE(count_type(events, "tool_completed") == 1);
    CHECK(events[2].payload.find("outcome")->as_string() == "unknown_outcome");
    CHECK(*host.kernel->status(TenantId("acme"), RunId(run)) == RunStatus::kNeedsAttention);
  }
  CHECK(host.charges == 0);  // never re-run by itself

  ReconcileDecision retry;
  retry.kind = ReconcileDecision::Kind::kRetry;
  ReconcileDecision success;
  success.kind = ReconcileDecision::Kind::kSuccess;
  success.result = Json::object({{"charged", 42}, {"verified", "by phone"}});
  ReconcileDecision failed;
  failed.kind = ReconcileDecision::Kind::kFailed;
  failed.error = "the bank says no charge was made";
  ReconcileDecision abandon;
  abandon.kind = ReconcileDecision::Kind::kAbandon;
  REQUIRE(host.kernel->reconcile("ops@acme", RunId("retry"), "pay", retry).ok());
  REQUIRE(host.kernel->reconcile("ops@acme", RunId("success"), "pay", success).ok());
  REQUIRE(host.kernel->reconcile("ops@acme", RunId("failed"), "pay", failed).ok());
  REQUIRE(host.kernel->reconcile("ops@acme", RunId("abandon"), "pay", abandon).ok());
  // A settled step is not reconciled twice.
  CHECK(host.kernel->reconcile("ops@acme", RunId("success"), "pay", retry).code() ==
        StatusCode::kFailedPrecondition);
  for (const std::string& run : runs) {
    REQUIRE(host.kernel->resume(TenantId("acme"), RunId(run), Json()).ok());
    auto events = events_of(*host.store, run);
    bool decided = false;
    for (const Event& e : events) {
      const Json* by = e.payload.find("by");
      decided = decided || (by != nullptr && by->as_string() == "ops@acme");
    }
    CHECK(decided);
  }

  std::string idempotency;
  auto retried = host.call("retry", "pay", Json::object({{"amount", 42}}),
                           ToolOutcomeKind::kSuccess, &idempotency);
  REQUIRE(retried.ok());
  CHECK_FALSE(retried->replayed);
  CHECK(idempotency == keys["retry"]);  // the same key as the attempt that died
  CHECK(host.charges == 1);
  auto recorded = host.call("success", "pay", Json::object({{"amount", 42}}));
  REQUIRE(recorded.ok());
  CHECK(recorded->replayed);
  CHECK(recorded->result == success.result);
  CHECK(host.call("failed", "pay", Json::object({{"amount", 42}})).status().kind() ==
        "tool_failed");
  auto abandoned = host.call("abandon", "pay", Json::object({{"amount", 42}}));
  CHECK(abandoned.status().kind() == "tool_failed");
  CHECK_THAT(abandoned.status().message(), Catch::Contains("abandoned"));
  CHECK(host.charges == 1);

  // And all of it replays in a new process with no side effect and no new event.
  std::map<std::string, size_t> sizes;
  for (const std::string& run : runs) sizes[run] = events_of(*host.store, run).size();
  const int charges_before = host.charges;
  host.reopen();
  REQUIRE(host.call("retry", "pay", Json::object({{"amount", 42}})).ok());
  REQUIRE(host.call("success", "pay", Json::object({{"amount", 42}})).ok());
  CHECK(host.call("failed", "pay", Json::object({{"amount", 42}})).status().kind() ==
        "tool_failed");
  CHECK(host.call("abandon", "pay", Json::object({{"amount", 42}})).status().kind() ==
        "tool_failed");
  CHECK(host.charges == charges_before);
  for (const std::string& run : runs) CHECK(events_of(*host.store, run).size() == sizes[run]);
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a run whose owner is alive in the middle of a tool is not settled by an onlooker",
          "[kernel][tool][crash]") {
  Host host;
  host.kernel.reset();
  host.store.reset();
  ChildProcess child({ARTANA_KERNEL_CHILD, host.dir.str(), "busy"});
  const std::string line = child.read_line();
  INFO(line);
  REQUIRE(line.rfind("in_tool ", 0) == 0);
  host.reopen();
  // Another process owns the run and may be running the tool right now: look, don't touch.
  auto status = host.kernel->status(TenantId("acme"), RunId("busy"));
  REQUIRE(status.ok());
  CHECK(*status == RunStatus::kRunning);
  CHECK(count_type(events_of(*host.store, "busy"), "tool_completed") == 0);
  auto taken = host.call("busy", "pay", Json::object({{"amount", 42}}));
  CHECK(taken.status().code() == StatusCode::kLeaseHeld);
  // Once the owner is dead, the dangling request is an unknown outcome.
  child.kill_hard();
  auto halted = host.call("busy", "pay", Json::object({{"amount", 42}}));
  CHECK(halted.status().kind() == "reconciliation_required");
  CHECK(count_type(events_of(*host.store, "busy"), "tool_completed") == 1);
  CHECK(host.charges == 0);
}

TEST_CASE("a tool without side effects whose call was lost runs again, with no reconciliation",
          "[kernel][tool]") {
  Host host;
  REQUIRE(host.kernel->tools()
              .add({"lookup", "reads a price", Json::object({{"type", "object"}}), "1", "", false})
              .ok());
  REQUIRE(host.kernel->start_run(start_request("r-lookup")).ok());
  ToolRequest request;
  request.step_key = "price";
  request.tool = "lookup";
  {
    auto first = host.kernel->begin_tool(TenantId("acme"), RunId("r-lookup"), request);
    REQUIRE(first.ok());
    REQUIRE(first->call.has_value());  // the process "dies" here: never finished
  }
  host.reopen();
  REQUIRE(host.kernel->tools()
              .add({"lookup", "reads a price", Json::object({{"type", "object"}}), "1", "", false})
              .ok());
  auto again = host.kernel->begin_tool(TenantId("acme"), RunId("r-lookup"), request);
  REQUIRE(again.ok());
  REQUIRE(again->call.has_value());  // live again, not reconciliation_required
  ToolOutcome done;
  done.result = Json::object({{"price", 3}});
  REQUIRE(host.kernel->finish_tool(std::move(again->pending), done).ok());
  const auto events = events_of(*host.store, "r-lookup");
  CHECK(count_type(events, "tool_requested") == 2);
  CHECK(count_type(events, "tool_completed") == 1);
  for (const Event& event : events) {
    const Json* outcome = event.payload.find("outcome");
    CHECK((outcome == nullptr || outcome->as_string() != "unknown_outcome"));
  }
}
