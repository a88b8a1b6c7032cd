// Child runs at the kernel's API (the host's run:child drives the same calls): the holder a
// parent keeps while its children stop, and when a sleeping holder wakes it.
#include <catch2/catch.hpp>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

// begin_child then start_run, as the host does for a child it executes live.
void start_child(KernelHost& host, const std::string& parent, const std::string& step_key,
                 const std::string& child) {
  ChildRequest request;
  request.step_key = step_key;
  request.child_run_id = RunId(child);
  request.script = "worker.lua";
  auto step = host.kernel->begin_child(kAcme, RunId(parent), request);
  REQUIRE(step.ok());
  REQUIRE(step->state == ChildStep::State::kExecute);
  REQUIRE(host.kernel->start_run(step->start).ok());
}

std::vector<Event> of_type(KernelHost& host, const std::string& run, const std::string& type) {
  std::vector<Event> out;
  for (Event& e : events_of(*host.store, run)) {
    if (e.type == type) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

// A completion that leaves another stopped child holding the parent records that child's
// child_waiting again; a sleeping one's due time is the child's to say (the parent's lock is
// never held while a child's is taken), so wake_time asks the child, here and in a new process.
TEST_CASE("a parent held again by a sleeping child wakes when that child's timer is due",
          "[kernel][child][sleep]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("p")).ok());
  start_child(host, "p", "a", "kid-a");
  start_child(host, "p", "b", "kid-b");

  auto slept = host.kernel->sleep(kAcme, RunId("kid-a"), "nap", 60'000'000, 1'000);
  REQUIRE(slept.ok());
  REQUIRE_FALSE(slept->done);
  ChildEnd sleeping;
  sleeping.status = RunStatus::kSleeping;
  sleeping.due_at_us = slept->due_at_us;
  REQUIRE(host.kernel->end_child(kAcme, RunId("p"), "a", RunId("kid-a"), sleeping).ok());

  REQUIRE(host.kernel->pause(kAcme, RunId("kid-b"), "ask", "input", Json::object()).ok());
  ChildEnd paused;
  paused.status = RunStatus::kPaused;
  REQUIRE(host.kernel->end_child(kAcme, RunId("p"), "b", RunId("kid-b"), paused).ok());
  CHECK(*host.kernel->status(kAcme, RunId("p")) == RunStatus::kPaused);
  CHECK_FALSE(host.kernel->wake_time(kAcme, RunId("p"))->has_value());

  REQUIRE(host.kernel->resume(kAcme, RunId("kid-b"), Json("yes")).ok());
  REQUIRE(host.kernel->complete(kAcme, RunId("kid-b"), Json("done: b")).ok());
  ChildEnd completed;
  completed.output = Json("done: b");
  REQUIRE(host.kernel->end_child(kAcme, RunId("p"), "b", RunId("kid-b"), completed).ok());

  // Held by kid-a again: sleeping, recorded again without its due time.
  CHECK(*host.kernel->status(kAcme, RunId("p")) == RunStatus::kSleeping);
  const std::vector<Event> waits = of_type(host, "p", "child_waiting");
  REQUIRE(waits.size() == 3);
  CHECK(waits.back().payload.find("child_run_id")->as_string() == "kid-a");
  CHECK(waits.back().payload.find("due_at_us") == nullptr);
  CHECK(*host.kernel->wake_time(kAcme, RunId("p")) == std::optional<int64_t>(slept->due_at_us));
  host.reopen();
  CHECK(*host.kernel->status(kAcme, RunId("p")) == RunStatus::kSleeping);
  CHECK(*host.kernel->wake_time(kAcme, RunId("p")) == std::optional<int64_t>(slept->due_at_us));

  // The child wakes and completes: nothing holds the parent, which runs with no wake time.
  auto woke = host.kernel->sleep(kAcme, RunId("kid-a"), "nap", 60'000'000, slept->due_at_us);
  REQUIRE(woke.ok());
  REQUIRE(woke->done);
  REQUIRE(host.kernel->complete(kAcme, RunId("kid-a"), Json("done: a")).ok());
  completed.output = Json("done: a");
  REQUIRE(host.kernel->end_child(kAcme, RunId("p"), "a", RunId("kid-a"), completed).ok());
  CHECK(*host.kernel->status(kAcme, RunId("p")) == RunStatus::kRunning);
  CHECK_FALSE(host.kernel->wake_time(kAcme, RunId("p"))->has_value());
  CHECK(of_type(host, "p", "child_completed").size() == 2);
}
