// The kernel API a host builds on: run records, per-run tool registries, script identity and
// artifacts — each observed through the ledger's events and statuses (sleeps:
// kernel_sleep_test.cc).
#include <catch2/catch.hpp>

#include <memory>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

using Host = KernelHost;

namespace {

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
  REQUIRE(host.kernel->finish_model(std::move(step->pending), port(*step->call)).ok());
  const auto events = events_of(*host.store, "r1");
  const Json& offered = events[1].payload.find("request")->find("tools")->as_array()[0];
  CHECK(*offered.find("signature") == Json(own->find("lookup")->signature));

  auto call = host.kernel->begin_tool(kAcme, RunId("r1"), tool_request("t1", "lookup"));
  REQUIRE(call.ok());
  REQUIRE(call->call.has_value());
  CHECK(field(events_of(*host.store, "r1").back(), "version") == Json("2"));
  REQUIRE(
      host.kernel->finish_tool(std::move(call->pending), {ToolOutcomeKind::kSuccess, Json(1), ""})
          .ok());
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
  auto done = host.kernel->finish_tool(std::move(pending->pending),
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
