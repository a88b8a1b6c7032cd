// The step machine: rules every step kind shares — forks followed by every kind, ended runs
// never live again, refusals that leave nothing to drift on, live steps held by handles.
#include <catch2/catch.hpp>

#include "kernel/run_state.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

using Host = KernelHost;

ToolSpec charge_spec(bool side_effect, std::string capability = "") {
  return {"charge", "charges a card",      Json::object({{"type", "object"}}),
          "1",      std::move(capability), side_effect};
}

ToolRequest charge(const std::string& key) {
  ToolRequest request;
  request.step_key = key;
  request.tool = "charge";
  request.arguments = Json::object({{"amount", 5}});
  return request;
}

// Starts `r1` with the side-effecting charge tool and begins its call "pay": live.
ToolStep begin_charging(Host& host) {
  REQUIRE(host.kernel->tools().add(charge_spec(true)).ok());
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto step = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
  REQUIRE(step.ok());
  REQUIRE(step->call);
  return std::move(step).value();
}

// Runs `r1` to a fork: step "a" recorded, then drifted under fork_on_drift.
RunId fork_run(Host& host) {
  StartRunRequest start = start_request("r1");
  start.replay = ReplayPolicy::kForkOnDrift;
  REQUIRE(host.kernel->start_run(start).ok());
  ScriptedModel port;
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "first"), port).ok());
  REQUIRE(host.kernel->summary(kAcme, RunId("r1"), "progress", Json(1), "summary:1").ok());
  host.reopen();
  auto forked = run_model(*host.kernel, "acme", "r1", prompt_request("a", "changed"), port);
  REQUIRE(forked.ok());
  REQUIRE(forked->run_id.str() != "r1");
  return forked->run_id;
}

}  // namespace

TEST_CASE("a summary after fork_on_drift is recorded in the fork, not taken as the original's",
          "[kernel][steps][fork]") {
  Host host;
  const RunId fork = fork_run(host);
  REQUIRE(host.kernel->summary(kAcme, RunId("r1"), "progress", Json(2), "summary:1").ok());
  auto in_fork = events_of(*host.store, fork.str());
  auto latest = host.store->latest_summary(fork, "progress");
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(*(*latest)->payload.find("value") == Json(2));
  CHECK(count_type(events_of(*host.store, "r1"), "run_summary") == 1);
}

TEST_CASE("every step kind after fork_on_drift goes to the fork", "[kernel][steps][fork]") {
  Host host;
  const RunId fork = fork_run(host);
  auto now = host.kernel->value_step(kAcme, RunId("r1"), "time:1", ValueKind::kTime,
                                     []() -> Result<Json> { return Json(7); });
  REQUIRE(now.ok());
  CHECK(now->run_id == fork);
  auto sleep = host.kernel->sleep(kAcme, RunId("r1"), "sleep:1", 0, 100);
  REQUIRE(sleep.ok());
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "artifact:1", "plan", Json(1)).ok());
  auto paused = host.kernel->pause(kAcme, RunId("r1"), "pause:1", "why", Json::object());
  REQUIRE(paused.ok());
  const auto original = events_of(*host.store, "r1");
  CHECK(count_type(original, "time_read") == 0);
  CHECK(count_type(original, "sleep_started") == 0);
  CHECK(count_type(original, "run_paused") == 0);
  const auto forked = events_of(*host.store, fork.str());
  CHECK(count_type(forked, "time_read") == 1);
  CHECK(count_type(forked, "sleep_completed") == 1);
  CHECK(count_type(forked, "run_paused") == 1);
}

TEST_CASE("an ended run never goes live again, whatever the kind, and the refusal is sticky",
          "[kernel][steps]") {
  for (RunStatus end : {RunStatus::kCompleted, RunStatus::kFailed}) {
    Host host;
    REQUIRE(host.kernel->start_run(start_request("r1")).ok());
    ScriptedModel port;
    REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "x"), port).ok());
    if (end == RunStatus::kCompleted) {
      REQUIRE(host.kernel->complete(kAcme, RunId("r1"), Json("done")).ok());
    } else {
      REQUIRE(host.kernel->fail(kAcme, RunId("r1"), Json("broke")).ok());
    }
    host.reopen();
    const size_t before = events_of(*host.store, "r1").size();
    // Recorded steps replay.
    REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "x"), port).ok());
    // A new step of any kind is refused, and so is everything after it.
    auto summary = host.kernel->summary(kAcme, RunId("r1"), "progress", Json(1), "summary:1");
    CHECK(summary.kind() == "replay_drift");
    auto model = run_model(*host.kernel, "acme", "r1", prompt_request("b", "y"), port);
    CHECK(model.status().kind() == "replay_drift");
    auto paused = host.kernel->pause(kAcme, RunId("r1"), "pause:1", "why", Json::object());
    CHECK(paused.status().kind() == "replay_drift");
    CHECK(port.calls == 1);
    CHECK(events_of(*host.store, "r1").size() == before);
  }
}

TEST_CASE("a refusal the script caught leaves nothing that makes a completed run drift",
          "[kernel][steps][middleware]") {
  Host host;
  KernelOptions options;
  options.middleware = {make_capability_guard()};
  host.kernel = open_kernel(*host.store, options);
  REQUIRE(host.kernel->tools().add(charge_spec(true, "billing")).ok());
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto denied = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
  CHECK(denied.status().kind() == "capability_denied");
  // Reached again in the same execution, refused again: audited once.
  CHECK(host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay")).status().kind() ==
        "capability_denied");
  REQUIRE(host.kernel->summary(kAcme, RunId("r1"), "note", Json("unpaid"), "summary:1").ok());
  REQUIRE(host.kernel->complete(kAcme, RunId("r1"), Json("without paying")).ok());
  host.kernel = open_kernel(*host.store, options);
  REQUIRE(host.kernel->tools().add(charge_spec(true, "billing")).ok());
  // The next execution reaches the refused step: refused as before, not drift.
  auto again = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
  CHECK(again.status().kind() == "capability_denied");
  auto status = host.kernel->status(kAcme, RunId("r1"));
  REQUIRE(status.ok());
  CHECK(*status == RunStatus::kCompleted);
  // Later steps of the run still replay: the refusal did not halt it.
  CHECK(host.kernel->summary(kAcme, RunId("r1"), "note", Json("unpaid"), "summary:1").ok());
  CHECK(count_type(events_of(*host.store, "r1"), "step_denied") == 1);
}

TEST_CASE("a dropped live step is abandoned: nothing held, a model step asked again",
          "[kernel][steps]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  {
    auto step = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("a", "x"));
    REQUIRE(step.ok());
    REQUIRE(step->call);
    CHECK(host.kernel->stats().pending_steps == 1);
  }
  CHECK(host.kernel->stats().pending_steps == 0);
  ScriptedModel port;
  auto again = run_model(*host.kernel, "acme", "r1", prompt_request("a", "x"), port);
  REQUIRE(again.ok());
  CHECK_FALSE(again->replayed);
  CHECK(port.calls == 1);
  // A handle finished twice (moved from) is refused, not a crash.
  auto step = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("b", "y"));
  REQUIRE(step.ok());
  PendingStep held = std::move(step->pending);
  REQUIRE(host.kernel->finish_model(std::move(held), port(*step->call)).ok());
  CHECK(host.kernel->finish_model(std::move(held), port(*step->call)).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(host.kernel->stats().pending_steps == 0);
}

TEST_CASE("after a reload, the same request adopts the call in flight, another abandons it",
          "[kernel][steps][reload]") {
  Host host;
  REQUIRE(host.kernel->tools().add(charge_spec(true, "")).ok());
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto model = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("m", "x"));
  REQUIRE(model.ok());
  REQUIRE(model->call);
  auto tool = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
  REQUIRE(tool.ok());
  REQUIRE(tool->call);
  const uint64_t model_ticket = model->pending.ticket();
  const uint64_t tool_ticket = tool->pending.ticket();

  // A new execution: the same requests adopt the calls (no second call, no unknown outcome).
  for (int i = 0; i < 3; ++i) {
    REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
    auto again = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("m", "x"));
    REQUIRE(again.ok());
    CHECK_FALSE(again->call);
    CHECK(again->adopted == model_ticket);
    auto tool_again = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
    REQUIRE(tool_again.ok());
    CHECK_FALSE(tool_again->call);
    CHECK(tool_again->adopted == tool_ticket);
  }
  CHECK(count_type(events_of(*host.store, "r1"), "tool_completed") == 0);  // nothing settled
  ScriptedModel port;
  REQUIRE(host.kernel->finish_model(std::move(model->pending), port(*model->call)).ok());
  ToolOutcome charged;
  charged.result = Json::object({{"ok", true}});
  REQUIRE(host.kernel->finish_tool(std::move(tool->pending), charged).ok());
  CHECK(host.kernel->stats().pending_steps == 0);
  // Another reload replays both.
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  auto replayed = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("m", "x"));
  REQUIRE(replayed.ok());
  CHECK(replayed->replayed);

  // A call in flight reached with another request: abandoned, the step goes live again.
  auto old = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("n", "old"));
  REQUIRE(old.ok());
  REQUIRE(old->call);
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  auto changed = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("n", "new"));
  REQUIRE(changed.ok());
  REQUIRE(changed->call);
  CHECK_FALSE(changed->adopted);
  CHECK(host.kernel->finish_model(std::move(old->pending), port(*old->call)).status().code() ==
        StatusCode::kInvalidArgument);  // not pending any more: nothing recorded
  REQUIRE(host.kernel->finish_model(std::move(changed->pending), port(*changed->call)).ok());
  CHECK(count_type(events_of(*host.store, "r1"), "model_requested") == 2);  // m, and n as new
  CHECK(host.kernel->stats().pending_steps == 0);
}

TEST_CASE("a dropped side-effecting tool call halts for reconciliation, not a second call",
          "[kernel][steps][tool]") {
  Host host;
  { ToolStep dropped = begin_charging(host); }
  auto again = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
  CHECK(again.status().kind() == "reconciliation_required");
  CHECK(count_type(events_of(*host.store, "r1"), "tool_requested") == 1);
}

TEST_CASE("a retried side effect whose process dies halts again: one call per decision",
          "[kernel][steps][tool]") {
  Host host;
  REQUIRE(host.kernel->tools().add(charge_spec(true)).ok());
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  int calls = 0;
  auto attempt = [&]() -> Status {
    auto step = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
    if (!step.ok()) return step.status();
    if (step->call) ++calls;  // the tool runs; its process then dies (no finish_tool)
    return Status();
  };
  auto reopen = [&] {
    host.reopen();
    REQUIRE(host.kernel->tools().add(charge_spec(true)).ok());
  };
  REQUIRE(attempt().ok());
  reopen();
  CHECK(attempt().kind() == "reconciliation_required");
  ReconcileDecision retry;
  retry.kind = ReconcileDecision::Kind::kRetry;
  REQUIRE(host.kernel->reconcile("ops", RunId("r1"), "pay", retry).ok());
  REQUIRE(host.kernel->resume(kAcme, RunId("r1"), Json()).ok());
  REQUIRE(attempt().ok());  // the retry: live once
  for (int crash = 0; crash < 3; ++crash) {
    reopen();
    CHECK(attempt().kind() == "reconciliation_required");
  }
  CHECK(calls == 2);
  CHECK(count_type(events_of(*host.store, "r1"), "tool_requested") == 2);
}

TEST_CASE(
    "retry_failed retries any failure of a tool without side effects, only transient "
    "ones of a side effect",
    "[kernel][steps][tool]") {
  for (bool side_effect : {false, true}) {
    Host host;
    REQUIRE(host.kernel->tools().add(charge_spec(side_effect)).ok());
    REQUIRE(host.kernel->start_run(start_request("r1")).ok());
    auto step = host.kernel->begin_tool(kAcme, RunId("r1"), charge("pay"));
    REQUIRE(step.ok());
    ToolOutcome failed{ToolOutcomeKind::kPermanentError, Json(), "declined"};
    CHECK(host.kernel->finish_tool(std::move(step->pending), failed).status().kind() ==
          "tool_failed");
    ToolRequest retry = charge("pay");
    retry.retry_failed = true;
    auto again = host.kernel->begin_tool(kAcme, RunId("r1"), retry);
    if (side_effect) {
      CHECK(again.status().kind() == "tool_failed");
    } else {
      REQUIRE(again.ok());
      CHECK(again->call.has_value());
    }
  }
}

// Looking at an ended run leaves no trace: a side effect cut off by a cancel stays as it was
// recorded (requested, never completed) instead of gaining an unknown_outcome after the run's
// end each time a process loads the run.
TEST_CASE("a cancelled run's cut-off side effect gets no unknown_outcome after the cancel",
          "[kernel][steps][tool][cancel]") {
  Host host;
  {
    ToolStep step = begin_charging(host);
    // Cancelled while the call runs; its handle is then dropped with the execution.
    auto cancelled = host.kernel->cancel(kAcme, RunId("r1"), "stop");
    REQUIRE(cancelled.ok());
  }
  const size_t recorded = events_of(*host.store, "r1").size();
  for (int i = 0; i < 3; ++i) {
    host.reopen();  // a new process looks at the run
    auto status = host.kernel->status(kAcme, RunId("r1"));
    REQUIRE(status.ok());
    CHECK(*status == RunStatus::kCancelled);
  }
  auto events = events_of(*host.store, "r1");
  CHECK(events.size() == recorded);
  CHECK(events.back().type == "run_cancelled");
  CHECK(count_type(events, "tool_completed") == 0);
}

TEST_CASE("a call finishing after its run was cancelled records nothing after the end",
          "[kernel][steps][tool][cancel]") {
  Host host;
  ToolStep step = begin_charging(host);
  REQUIRE(host.kernel->cancel(kAcme, RunId("r1"), "stop").ok());
  const size_t recorded = events_of(*host.store, "r1").size();
  auto finished =
      host.kernel->finish_tool(std::move(step.pending), {ToolOutcomeKind::kSuccess, Json(1), ""});
  CHECK_FALSE(finished.ok());
  CHECK(finished.status().kind() == "cancelled");
  auto events = events_of(*host.store, "r1");
  CHECK(events.size() == recorded);
  CHECK(events.back().type == "run_cancelled");
  CHECK(host.kernel->stats().pending_steps == 0);
}

TEST_CASE("a model call answering after its run was cancelled records nothing after the end",
          "[kernel][steps][model][cancel]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto step = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("ask", "hello"));
  REQUIRE(step.ok());
  REQUIRE(step->call);
  REQUIRE(host.kernel->cancel(kAcme, RunId("r1"), "stop").ok());
  const size_t recorded = events_of(*host.store, "r1").size();
  ModelOutcome answer;
  answer.output = Json::object({{"text", "late"}});
  auto finished = host.kernel->finish_model(std::move(step->pending), std::move(answer));
  CHECK(finished.status().kind() == "cancelled");
  auto events = events_of(*host.store, "r1");
  CHECK(events.size() == recorded);
  CHECK(events.back().type == "run_cancelled");
  CHECK(count_type(events, "model_requested") == 0);
}

// A reload gives the new execution a fresh view of the whole fork chain: the fork's held
// state is loaded again (replaying from its first step), and a call in flight in the fork is
// adopted there.
TEST_CASE("a reload refreshes every run of the fork chain and hands over the fork's calls",
          "[kernel][steps][reload][fork]") {
  Host host;
  const RunId fork = fork_run(host);  // r1: step a drifted into `fork`
  ScriptedModel port;
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("b", "two"), port).ok());
  auto live = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("c", "three"));
  REQUIRE(live.ok());
  REQUIRE(live->call);
  REQUIRE(live->call->run_id == fork);
  CHECK_FALSE(*host.kernel->replaying(kAcme, fork));  // the fork went live

  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  CHECK(*host.kernel->replaying(kAcme, RunId("r1")));
  CHECK(*host.kernel->replaying(kAcme, fork));  // fresh: its recorded steps lie ahead
  const int calls = port.calls;
  auto a = run_model(*host.kernel, "acme", "r1", prompt_request("a", "changed"), port);
  REQUIRE(a.ok());
  CHECK(a->replayed);
  CHECK(a->run_id == fork);
  auto b = run_model(*host.kernel, "acme", "r1", prompt_request("b", "two"), port);
  REQUIRE(b.ok());
  CHECK(b->replayed);
  CHECK(port.calls == calls);
  auto adopted = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("c", "three"));
  REQUIRE(adopted.ok());
  CHECK_FALSE(adopted->call);
  CHECK(adopted->adopted == live->pending.ticket());
  REQUIRE(host.kernel->finish_model(std::move(live->pending), port(*live->call)).ok());
  CHECK(host.kernel->stats().pending_steps == 0);
  CHECK(count_type(events_of(*host.store, fork.str()), "model_requested") >= 2);
}

// A replay reads a terminal's payload as text and parses it when a kind needs it: bytes that
// hash right and are not a JSON object (edited, then hashed again) are corruption.
TEST_CASE("a recorded terminal parses its text once, text that is not an object is corruption",
          "[kernel][replay]") {
  artana::kernel::RecordedTerminal good{"model_completed", 7, Json(), R"({"output":{"t":1}})"};
  REQUIRE(good.parse(RunId("r")).ok());
  CHECK(good.text.empty());
  CHECK(good.payload.find("output")->find("t")->as_integer() == 1);
  REQUIRE(good.parse(RunId("r")).ok());  // parsed already: nothing to do
  for (const char* bad : {R"({"output":)", "[1]", "null"}) {
    INFO(bad);
    artana::kernel::RecordedTerminal edited{"model_completed", 7, Json(), bad};
    const Status status = edited.parse(RunId("r"));
    CHECK(status.code() == StatusCode::kCorruption);
    CHECK_THAT(status.message(),
               Catch::Contains("run 'r' seq 7") && Catch::Contains("artana ledger verify"));
  }
}
