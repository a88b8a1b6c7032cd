// Kernel steps other than model and tool calls: pauses, keyed summaries, value steps and
// version markers — recorded once, replayed with no new event.
#include <catch2/catch.hpp>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

using Host = KernelHost;

TEST_CASE("a pause suspends the run until resume, then returns the human input",
          "[kernel][pause]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("p1")).ok());
  const Json context = Json::object({{"question", "ship it?"}});
  auto paused =
      host.kernel->pause(TenantId("acme"), RunId("p1"), "approve", "needs a human", context);
  REQUIRE(paused.ok());
  CHECK(paused->paused);
  CHECK(*host.kernel->status(TenantId("acme"), RunId("p1")) == RunStatus::kPaused);
  host.reopen();
  auto still =
      host.kernel->pause(TenantId("acme"), RunId("p1"), "approve", "needs a human", context);
  REQUIRE(still.ok());
  CHECK(still->paused);
  REQUIRE(host.kernel->resume(TenantId("acme"), RunId("p1"), Json::object({{"ok", true}})).ok());
  CHECK(*host.kernel->status(TenantId("acme"), RunId("p1")) == RunStatus::kRunning);
  host.reopen();
  auto resumed =
      host.kernel->pause(TenantId("acme"), RunId("p1"), "approve", "needs a human", context);
  REQUIRE(resumed.ok());
  CHECK_FALSE(resumed->paused);
  CHECK(resumed->input == Json::object({{"ok", true}}));
  // The pause's key is a pause step: a model call there is drift, under any policy.
  ScriptedModel port;
  ModelRequest clash = prompt_request("approve", "x");
  clash.replay = ReplayPolicy::kAllowPromptDrift;
  CHECK(run_model(*host.kernel, "acme", "p1", clash, port).status().kind() == "replay_drift");
  CHECK(port.calls == 0);
}

TEST_CASE("a keyed summary is recorded once and a replay reaching it appends nothing",
          "[kernel][summary]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  const Json value = Json::object({{"done", 3}});
  REQUIRE(host.kernel->summary(TenantId("acme"), RunId("r1"), "progress", value, "summary:1").ok());
  CHECK(host.kernel->summary(TenantId("acme"), RunId("r1"), "policy_decision", value).kind() ==
        "policy_violation");
  host.reopen();
  REQUIRE(host.kernel->summary(TenantId("acme"), RunId("r1"), "progress", value, "summary:1").ok());
  auto events = events_of(*host.store, "r1");
  CHECK(count_type(events, "run_summary") == 1);
  auto latest = host.store->latest_summary(RunId("r1"), "progress");
  REQUIRE(latest.ok());
  REQUIRE(latest->has_value());
  CHECK(*(*latest)->payload.find("value") == value);
}

TEST_CASE("value steps record the time and random numbers once and replay them",
          "[kernel][value]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  int computed = 0;
  auto clock = [&]() -> Result<Json> {
    ++computed;
    return Json(int64_t{1700000000000 + computed});
  };
  auto now =
      host.kernel->value_step(TenantId("acme"), RunId("r1"), "time:1", ValueKind::kTime, clock);
  REQUIRE(now.ok());
  CHECK_FALSE(now->replayed);
  auto roll = host.kernel->value_step(TenantId("acme"), RunId("r1"), "random:1", ValueKind::kRandom,
                                      [] { return Result<Json>(Json(0.25)); });
  REQUIRE(roll.ok());
  auto events = events_of(*host.store, "r1");
  CHECK(events[1].type == "time_read");
  CHECK(events[2].type == "random_read");

  host.reopen();
  auto again =
      host.kernel->value_step(TenantId("acme"), RunId("r1"), "time:1", ValueKind::kTime, clock);
  REQUIRE(again.ok());
  CHECK(again->replayed);
  CHECK(again->value == now->value);
  CHECK(computed == 1);
  auto roll_again =
      host.kernel->value_step(TenantId("acme"), RunId("r1"), "random:1", ValueKind::kRandom,
                              [] { return Result<Json>(Json(0.99)); });
  REQUIRE(roll_again.ok());
  CHECK(roll_again->value == Json(0.25));
  CHECK(events_of(*host.store, "r1").size() == events.size());
  // The same key as another kind of step is drift.
  auto clash = host.kernel->value_step(TenantId("acme"), RunId("r1"), "time:1", ValueKind::kRandom,
                                       [] { return Result<Json>(Json(1)); });
  CHECK(clash.status().kind() == "replay_drift");
}

TEST_CASE("version markers: new runs record the newest, old histories take the old path",
          "[kernel][value][version]") {
  Host host;
  ScriptedModel port;
  // An old run, recorded before the change existed.
  REQUIRE(host.kernel->start_run(start_request("old")).ok());
  REQUIRE(run_model(*host.kernel, "acme", "old", prompt_request("a", "x"), port).ok());
  REQUIRE(run_model(*host.kernel, "acme", "old", prompt_request("b", "y"), port).ok());
  REQUIRE(host.kernel->start_run(start_request("new")).ok());
  host.reopen();

  // New code asks for the version before its first step.
  auto old_first = host.kernel->version(TenantId("acme"), RunId("old"), "retry-prompt", 2);
  REQUIRE(old_first.ok());
  CHECK(*old_first == 0);
  CHECK(*host.kernel->replaying(TenantId("acme"), RunId("old")));
  REQUIRE(run_model(*host.kernel, "acme", "old", prompt_request("a", "x"), port).ok());
  REQUIRE(run_model(*host.kernel, "acme", "old", prompt_request("b", "y"), port).ok());
  CHECK_FALSE(*host.kernel->replaying(TenantId("acme"), RunId("old")));
  // Still the old path for this id, even live now; a new id records its version.
  CHECK(*host.kernel->version(TenantId("acme"), RunId("old"), "retry-prompt", 2) == 0);
  CHECK(*host.kernel->version(TenantId("acme"), RunId("old"), "later-change", 3) == 3);
  auto old_events = events_of(*host.store, "old");
  CHECK(count_type(old_events, "version_marker") == 1);

  auto fresh = host.kernel->version(TenantId("acme"), RunId("new"), "retry-prompt", 2);
  REQUIRE(fresh.ok());
  CHECK(*fresh == 2);
  host.reopen();
  CHECK(*host.kernel->version(TenantId("acme"), RunId("new"), "retry-prompt", 5) == 2);
  CHECK(count_type(events_of(*host.store, "new"), "version_marker") == 1);
}
