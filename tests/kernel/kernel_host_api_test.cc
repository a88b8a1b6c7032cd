// The kernel API a host builds on: run records, per-run tool registries, script identity,
// durable sleeps and artifacts — each observed through the ledger's events and statuses.
#include <catch2/catch.hpp>

#include <memory>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

using Host = KernelHost;

namespace {

const TenantId kAcme("acme");

std::shared_ptr<ToolRegistry> registry_with(const std::string& tool, const std::string& version) {
  auto registry = std::make_shared<ToolRegistry>();
  REQUIRE(
      registry->add({tool, "looks things up", Json::object({{"type", "object"}}), version}).ok());
  return registry;
}

ToolRequest tool_request(const std::string& key, const std::string& tool) {
  ToolRequest request;
  request.step_key = key;
  request.tool = tool;
  request.arguments = Json::object({{"q", "x"}});
  return request;
}

const Json& field(const Event& event, const char* name) {
  const Json* value = event.payload.find(name);
  REQUIRE(value != nullptr);
  return *value;
}

}  // namespace

TEST_CASE("run_record reports how the run started and its tenant context now", "[kernel][host]") {
  Host host;
  StartRunRequest start = start_request("r1");
  start.script_hash = std::string(64, 'a');
  start.replay = ReplayPolicy::kAllowPromptDrift;
  start.parent_run_id = RunId("boss");
  start.metadata = Json::object({{"source", "cli"}});
  REQUIRE(host.kernel->start_run(start).ok());
  REQUIRE(host.kernel->grant("ops", RunId("r1"), "mail").ok());
  host.reopen();

  auto record = host.kernel->run_record(kAcme, RunId("r1"));
  REQUIRE(record.ok());
  CHECK(record->run_id.str() == "r1");
  CHECK(record->tenant.tenant_id.str() == "acme");
  CHECK(record->tenant.has_capability("mail"));
  CHECK(record->script_hash == start.script_hash);
  CHECK(record->input == start.input);
  CHECK(record->replay == ReplayPolicy::kAllowPromptDrift);
  REQUIRE(record->parent_run_id.has_value());
  CHECK(record->parent_run_id->str() == "boss");
  CHECK(record->metadata == start.metadata);
  CHECK(record->status == RunStatus::kRunning);
  CHECK(record->active_run_id.str() == "r1");
  CHECK(record->script.is_null());

  CHECK(host.kernel->run_record(kAcme, RunId("nope")).status().code() == StatusCode::kNotFound);
  const TenantId other("globex");
  CHECK(host.kernel->run_record(other, RunId("r1")).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(host.kernel->record_script(other, RunId("r1"), Json::object()).code() ==
        StatusCode::kPermissionDenied);
  CHECK(host.kernel->set_run_tools(other, RunId("r1"), nullptr).code() ==
        StatusCode::kPermissionDenied);
  CHECK(host.kernel->sleep(other, RunId("r1"), "nap", 1, 0).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(host.kernel->wake_time(other, RunId("r1")).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(host.kernel->write_artifact(other, RunId("r1"), "w", "k", 1).code() ==
        StatusCode::kPermissionDenied);
  CHECK(host.kernel->read_artifact(other, RunId("r1"), "r", "k").status().code() ==
        StatusCode::kPermissionDenied);
}

TEST_CASE("record_script appends script_loaded only when the identity changes, across reloads",
          "[kernel][host][script]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  const Json first = Json::object({{"entry", "main.lua"}, {"sha256", "abc"}});
  REQUIRE(host.kernel->record_script(kAcme, RunId("r1"), first).ok());
  REQUIRE(host.kernel->record_script(kAcme, RunId("r1"), first).ok());
  CHECK(count_type(events_of(*host.store, "r1"), "script_loaded") == 1);

  // A new process reads the last identity back from the events; member order is not identity.
  host.reopen();
  const Json reordered = Json::object({{"sha256", "abc"}, {"entry", "main.lua"}});
  REQUIRE(host.kernel->record_script(kAcme, RunId("r1"), reordered).ok());
  CHECK(count_type(events_of(*host.store, "r1"), "script_loaded") == 1);

  const Json second = Json::object({{"entry", "main.lua"}, {"sha256", "def"}});
  REQUIRE(host.kernel->record_script(kAcme, RunId("r1"), second).ok());
  auto events = events_of(*host.store, "r1");
  REQUIRE(count_type(events, "script_loaded") == 2);
  CHECK(events.back().type == "script_loaded");
  CHECK(events.back().payload == second);
  CHECK(host.kernel->run_record(kAcme, RunId("r1"))->script == second);
  // Going back to the first identity is a change too.
  REQUIRE(host.kernel->record_script(kAcme, RunId("r1"), first).ok());
  CHECK(count_type(events_of(*host.store, "r1"), "script_loaded") == 3);

  // An ended run records nothing, and says so with ok.
  REQUIRE(host.kernel->complete(kAcme, RunId("r1"), Json::object()).ok());
  const size_t before = events_of(*host.store, "r1").size();
  REQUIRE(host.kernel->record_script(kAcme, RunId("r1"), Json::object({{"sha256", "zzz"}})).ok());
  CHECK(events_of(*host.store, "r1").size() == before);
  CHECK(host.kernel->record_script(kAcme, RunId("r1"), Json(3)).code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("a sleep survives a reload, completes once due and then replays with no append",
          "[kernel][host][sleep]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto started = host.kernel->sleep(kAcme, RunId("r1"), "nap", 1000, 5000);
  REQUIRE(started.ok());
  CHECK_FALSE(started->done);
  CHECK(started->due_at_us == 6000);
  auto events = events_of(*host.store, "r1");
  const Event& opened = events.back();
  CHECK(opened.type == "sleep_started");
  CHECK(started->seq == opened.seq);
  CHECK(field(opened, "step_key") == Json("nap"));
  CHECK(field(opened, "due_at_us") == Json(int64_t{6000}));
  CHECK(field(opened, "duration_us") == Json(int64_t{1000}));
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kSleeping);
  CHECK(*host.kernel->wake_time(kAcme, RunId("r1")) == std::optional<int64_t>(6000));

  // Not due yet: nothing is appended.
  auto early = host.kernel->sleep(kAcme, RunId("r1"), "nap", 1000, 5999);
  REQUIRE(early.ok());
  CHECK_FALSE(early->done);
  CHECK(early->due_at_us == 6000);
  CHECK(events_of(*host.store, "r1").size() == events.size());

  // Another process: the status and the timer come back from the ledger. A different
  // duration does not move the recorded deadline and is not drift.
  host.reopen();
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kSleeping);
  CHECK(*host.kernel->wake_time(kAcme, RunId("r1")) == std::optional<int64_t>(6000));
  auto woke = host.kernel->sleep(kAcme, RunId("r1"), "nap", 99, 6500);
  REQUIRE(woke.ok());
  CHECK(woke->done);
  CHECK_FALSE(woke->replayed);
  CHECK(woke->due_at_us == 6000);
  events = events_of(*host.store, "r1");
  const Event& closed = events.back();
  CHECK(closed.type == "sleep_completed");
  CHECK(woke->seq == closed.seq);
  CHECK(field(closed, "due_at_us") == Json(int64_t{6000}));
  CHECK(field(closed, "woke_at_us") == Json(int64_t{6500}));
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kRunning);
  CHECK_FALSE(host.kernel->wake_time(kAcme, RunId("r1"))->has_value());
  auto terminal = host.store->find_terminal(RunId("r1"), "nap");
  REQUIRE(terminal.ok());
  REQUIRE(terminal->has_value());
  CHECK((*terminal)->seq == closed.seq);

  host.reopen();
  auto replayed = host.kernel->sleep(kAcme, RunId("r1"), "nap", 1000, 0);
  REQUIRE(replayed.ok());
  CHECK(replayed->done);
  CHECK(replayed->replayed);
  CHECK(replayed->seq == closed.seq);
  CHECK(events_of(*host.store, "r1").size() == events.size());
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kRunning);
}

TEST_CASE("a sleep of no duration starts and completes in one call", "[kernel][host][sleep]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto slept = host.kernel->sleep(kAcme, RunId("r1"), "yield", 0, 42);
  REQUIRE(slept.ok());
  CHECK(slept->done);
  CHECK_FALSE(slept->replayed);
  CHECK(slept->due_at_us == 42);
  auto events = events_of(*host.store, "r1");
  REQUIRE(events.size() == 3);
  CHECK(events[1].type == "sleep_started");
  CHECK(events[2].type == "sleep_completed");
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kRunning);
  CHECK_FALSE(host.kernel->wake_time(kAcme, RunId("r1"))->has_value());
  // A deadline past what the ledger can hold exactly is refused before anything is written.
  CHECK(host.kernel->sleep(kAcme, RunId("r1"), "forever", INT64_MAX, 42).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(events_of(*host.store, "r1").size() == 3);
}

TEST_CASE("wake_time is the earliest of the sleeps still pending", "[kernel][host][sleep]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel->sleep(kAcme, RunId("r1"), "long", 5000, 0).ok());
  REQUIRE(host.kernel->sleep(kAcme, RunId("r1"), "short", 2000, 0).ok());
  CHECK(*host.kernel->wake_time(kAcme, RunId("r1")) == std::optional<int64_t>(2000));
  REQUIRE(host.kernel->sleep(kAcme, RunId("r1"), "short", 2000, 2000)->done);
  CHECK(*host.kernel->wake_time(kAcme, RunId("r1")) == std::optional<int64_t>(5000));
  host.reopen();
  CHECK(*host.kernel->wake_time(kAcme, RunId("r1")) == std::optional<int64_t>(5000));
}

TEST_CASE("a sleeping run is refused resume, can be cancelled, and then never wakes",
          "[kernel][host][sleep]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel->sleep(kAcme, RunId("r1"), "nap", 1000, 0).ok());
  CHECK(host.kernel->resume(kAcme, RunId("r1"), Json()).code() == StatusCode::kFailedPrecondition);
  REQUIRE(host.kernel->cancel(kAcme, RunId("r1"), "no longer needed").ok());
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kCancelled);
  CHECK(events_of(*host.store, "r1").back().type == "run_cancelled");
  CHECK(host.kernel->sleep(kAcme, RunId("r1"), "nap", 1000, 5000).status().kind() == "cancelled");
  CHECK_FALSE(host.kernel->wake_time(kAcme, RunId("r1"))->has_value());
  // After a reload the sleep is found due, but a cancelled run stays cancelled.
  host.reopen();
  CHECK_FALSE(host.kernel->wake_time(kAcme, RunId("r1"))->has_value());
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kCancelled);
}

TEST_CASE("a sleep at a key recorded as another kind of step halts the run with replay_drift",
          "[kernel][host][sleep]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel
              ->value_step(kAcme, RunId("r1"), "t", ValueKind::kTime,
                           [] { return Result<Json>(Json(1)); })
              .ok());
  auto clash = host.kernel->sleep(kAcme, RunId("r1"), "t", 10, 0);
  CHECK(clash.status().kind() == "replay_drift");
  CHECK(clash.status().step_key() == "t");
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kNeedsAttention);
  // Sticky: every later step call gets the same error.
  CHECK(host.kernel->sleep(kAcme, RunId("r1"), "other", 10, 0).status().kind() == "replay_drift");
  CHECK(host.kernel->sleep(kAcme, RunId("r1"), std::string(kMaxStepKeyBytes + 1, 'k'), 1, 0)
            .status()
            .code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a completed run never starts a sleep it did not record", "[kernel][host][sleep]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel->complete(kAcme, RunId("r1"), Json::object()).ok());
  const size_t before = events_of(*host.store, "r1").size();
  CHECK(host.kernel->sleep(kAcme, RunId("r1"), "nap", 10, 0).status().kind() == "replay_drift");
  CHECK(events_of(*host.store, "r1").size() == before);
  CHECK(*host.kernel->status(kAcme, RunId("r1")) == RunStatus::kCompleted);
}

TEST_CASE("the sleeping status is stored in the run record and listed by status",
          "[kernel][store]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel->start_run(start_request("r2")).ok());
  REQUIRE(host.kernel->sleep(kAcme, RunId("r1"), "nap", 10, 0).ok());
  host.reopen();
  auto info = host.store->head(RunId("r1"));
  REQUIRE(info.ok());
  CHECK(info->status == RunStatus::kSleeping);
  auto sleeping = host.store->list_runs(kAcme, RunStatus::kSleeping);
  REQUIRE(sleeping.ok());
  REQUIRE(sleeping->size() == 1);
  CHECK(sleeping->front().header.run_id.str() == "r1");
  CHECK(run_status_name(RunStatus::kSleeping) == "sleeping");
  CHECK(*parse_run_status("sleeping") == RunStatus::kSleeping);
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a run's own tool registry wins over the kernel's tool of the same name",
          "[kernel][host][tool]") {
  Host host;
  REQUIRE(host.kernel->tools()
              .add({"lookup", "the kernel's", Json::object({{"type", "object"}}), "1"})
              .ok());
  REQUIRE(host.kernel->tools()
              .add({"kernel_only", "not the run's", Json::object({{"type", "object"}}), "1"})
              .ok());
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel->start_run(start_request("plain")).ok());
  auto own = registry_with("lookup", "2");
  REQUIRE(host.kernel->set_run_tools(kAcme, RunId("r1"), own).ok());

  // The model step offers the run's tool, with its signature.
  ModelRequest ask = prompt_request("ask", "find x");
  ask.tools = {"lookup"};
  auto step = host.kernel->begin_model(kAcme, RunId("r1"), ask);
  REQUIRE(step.ok());
  REQUIRE(step->call.has_value());
  REQUIRE(step->call->tools.size() == 1);
  CHECK(*step->call->tools.as_array()[0].find("description") == Json("looks things up"));
  ScriptedModel port;
  REQUIRE(host.kernel->finish_model(step->call->ticket, port(*step->call)).ok());
  const auto events = events_of(*host.store, "r1");
  const Json& offered = events[1].payload.find("request")->find("tools")->as_array()[0];
  CHECK(*offered.find("signature") == Json(own->find("lookup")->signature));

  auto call = host.kernel->begin_tool(kAcme, RunId("r1"), tool_request("t1", "lookup"));
  REQUIRE(call.ok());
  REQUIRE(call->call.has_value());
  CHECK(field(events_of(*host.store, "r1").back(), "version") == Json("2"));
  REQUIRE(
      host.kernel->finish_tool(call->call->ticket, {ToolOutcomeKind::kSuccess, Json(1), ""}).ok());
  // The kernel's registry is not consulted for this run at all.
  CHECK(host.kernel->begin_tool(kAcme, RunId("r1"), tool_request("t2", "kernel_only"))
            .status()
            .code() == StatusCode::kInvalidArgument);
  // A run without its own registry still uses the kernel's.
  auto plain = host.kernel->begin_tool(kAcme, RunId("plain"), tool_request("t1", "lookup"));
  REQUIRE(plain.ok());
  CHECK(field(events_of(*host.store, "plain").back(), "version") == Json("1"));
}

TEST_CASE("replacing a run's tool registry keeps a pending tool call's registry alive",
          "[kernel][host][tool]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto first = registry_with("lookup", "1");
  std::weak_ptr<ToolRegistry> watch = first;
  REQUIRE(host.kernel->set_run_tools(kAcme, RunId("r1"), first).ok());
  auto pending = host.kernel->begin_tool(kAcme, RunId("r1"), tool_request("t1", "lookup"));
  REQUIRE(pending.ok());
  REQUIRE(pending->call.has_value());

  // Hot reload: the next steps see version 2; the call in flight finishes as begun.
  REQUIRE(host.kernel->set_run_tools(kAcme, RunId("r1"), registry_with("lookup", "2")).ok());
  first.reset();
  CHECK_FALSE(watch.expired());
  auto done = host.kernel->finish_tool(pending->call->ticket,
                                       {ToolOutcomeKind::kSuccess, Json("found"), ""});
  REQUIRE(done.ok());
  CHECK(done->result == Json("found"));
  CHECK(watch.expired());
  auto next = host.kernel->begin_tool(kAcme, RunId("r1"), tool_request("t2", "lookup"));
  REQUIRE(next.ok());
  CHECK(field(events_of(*host.store, "r1").back(), "version") == Json("2"));
}

TEST_CASE("a fork created by fork_on_drift inherits its parent's tool registry",
          "[kernel][host][tool][fork]") {
  Host host;
  StartRunRequest start = start_request("r1");
  start.replay = ReplayPolicy::kForkOnDrift;
  REQUIRE(host.kernel->start_run(start).ok());
  ScriptedModel port;
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", "plan A"), port).ok());
  // A new process: the kernel's own registry is empty; the host sets the run's.
  host.reopen();
  REQUIRE(host.kernel->set_run_tools(kAcme, RunId("r1"), registry_with("lookup", "7")).ok());
  auto drifted = run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", "plan B"), port);
  REQUIRE(drifted.ok());
  const std::string fork_id = drifted->run_id.str();
  CHECK_THAT(fork_id, Catch::StartsWith("r1::fork::"));
  CHECK(host.kernel->run_record(kAcme, RunId("r1"))->active_run_id.str() == fork_id);

  auto call = host.kernel->begin_tool(kAcme, RunId("r1"), tool_request("t1", "lookup"));
  REQUIRE(call.ok());
  REQUIRE(call->call.has_value());
  CHECK(call->call->run_id.str() == fork_id);
  CHECK(field(events_of(*host.store, fork_id).back(), "version") == Json("7"));
}

TEST_CASE("read_artifact returns the latest write and replays what it read after a later write",
          "[kernel][host][artifact]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto missing = host.kernel->read_artifact(kAcme, RunId("r1"), "read:0", "report");
  REQUIRE(missing.ok());
  CHECK(missing->value.is_null());
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "write:1", "report", Json("v1")).ok());
  auto events = events_of(*host.store, "r1");
  CHECK(events.back().type == "run_summary");
  CHECK(field(events.back(), "kind") == Json("artifact::report"));
  CHECK(field(events.back(), "value") == Json("v1"));
  CHECK(field(events.back(), "step_key") == Json("write:1"));
  auto read = host.kernel->read_artifact(kAcme, RunId("r1"), "read:1", "report");
  REQUIRE(read.ok());
  CHECK(read->value == Json("v1"));
  CHECK_FALSE(read->replayed);
  events = events_of(*host.store, "r1");
  CHECK(events.back().type == "artifact_read");
  CHECK(field(events.back(), "value") == Json("v1"));
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "write:2", "report", Json("v2")).ok());
  auto latest = host.store->latest_summary(RunId("r1"), "artifact::report");
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(*(*latest)->payload.find("value") == Json("v2"));
  const size_t recorded = events_of(*host.store, "r1").size();

  // The script runs again from the top in a new process.
  host.reopen();
  REQUIRE(host.kernel->read_artifact(kAcme, RunId("r1"), "read:0", "report")->value.is_null());
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "write:1", "report", Json("v1")).ok());
  auto again = host.kernel->read_artifact(kAcme, RunId("r1"), "read:1", "report");
  REQUIRE(again.ok());
  CHECK(again->replayed);
  CHECK(again->value == Json("v1"));
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "write:2", "report", Json("v2")).ok());
  CHECK(events_of(*host.store, "r1").size() == recorded);
  auto live = host.kernel->read_artifact(kAcme, RunId("r1"), "read:2", "report");
  REQUIRE(live.ok());
  CHECK_FALSE(live->replayed);
  CHECK(live->value == Json("v2"));
}

TEST_CASE("artifact keys must be 1..200 bytes of printable ASCII", "[kernel][host][artifact]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  for (const std::string& bad :
       {std::string(), std::string(201, 'k'), std::string("a\nb"), std::string("caf\xc3\xa9")}) {
    Status wrote = host.kernel->write_artifact(kAcme, RunId("r1"), "w", bad, 1);
    CHECK(wrote.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(wrote.message(), Catch::Contains("artifact key"));
    CHECK(host.kernel->read_artifact(kAcme, RunId("r1"), "r", bad).status().code() ==
          StatusCode::kInvalidArgument);
  }
  CHECK(host.kernel->write_artifact(kAcme, RunId("r1"), "w", std::string(200, 'k'), 1).ok());
  CHECK(events_of(*host.store, "r1").size() == 2);
}

TEST_CASE("a fork reads the artifacts its parent wrote before the fork point, not after",
          "[kernel][host][artifact][fork]") {
  Host host;
  StartRunRequest start = start_request("r1");
  start.replay = ReplayPolicy::kForkOnDrift;
  REQUIRE(host.kernel->start_run(start).ok());
  ScriptedModel port;
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "w1", "plan", Json("before")).ok());
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", "plan A"), port).ok());
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "w2", "plan", Json("after")).ok());
  host.reopen();

  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "w1", "plan", Json("before")).ok());
  auto drifted = run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", "plan B"), port);
  REQUIRE(drifted.ok());
  const std::string fork_id = drifted->run_id.str();
  REQUIRE(fork_id != "r1");
  auto read = host.kernel->read_artifact(kAcme, RunId("r1"), "r1", "plan");
  REQUIRE(read.ok());
  CHECK(read->run_id.str() == fork_id);
  CHECK(read->value == Json("before"));
  CHECK(events_of(*host.store, fork_id).back().type == "artifact_read");
}
