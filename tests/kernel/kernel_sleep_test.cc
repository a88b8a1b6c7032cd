// Durable sleeps: a timer recorded once, completed when due (in another process too), then
// replayed; the sleeping status in the run record.
#include <catch2/catch.hpp>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

using Host = KernelHost;

namespace {

const Json& field(const Event& event, const char* name) {
  const Json* value = event.payload.find(name);
  REQUIRE(value != nullptr);
  return *value;
}

}  // namespace

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
