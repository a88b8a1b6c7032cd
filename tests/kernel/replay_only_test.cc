// ModelRequest::replay_only: a step decided only when it replays a result kept in memory,
// unchanged and succeeded — the part of a reload's catch-up another thread may do. Every other
// case comes back deferred having changed nothing: no event, no halt, no drift noted, no call
// adopted or opened, no ledger read; the same step begun without the flag then decides it.
#include <catch2/catch.hpp>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

using Host = KernelHost;

ModelRequest replay_only(const std::string& key, const std::string& prompt) {
  ModelRequest request = prompt_request(key, prompt);
  request.replay_only = true;
  request.result_as_text = true;
  return request;
}

// A deferred step: nothing came back and nothing was appended.
void check_deferred(Host& host, const Result<ModelStep>& step, size_t events_before) {
  REQUIRE(step.ok());
  CHECK(step->deferred);
  CHECK_FALSE(step->replayed);
  CHECK_FALSE(step->call);
  CHECK_FALSE(step->adopted);
  CHECK(events_of(*host.store, "r1").size() == events_before);
}

}  // namespace

TEST_CASE("a replay-only step replays a kept result and defers anything else, changing nothing",
          "[kernel][replay][reload]") {
  Host host;
  ScriptedModel port;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  std::vector<ModelResult> live;
  for (const char* n : {"1", "2", "3"}) {
    auto result = run_model(*host.kernel, "acme", "r1",
                            prompt_request(std::string("m") + n, std::string("p") + n), port);
    REQUIRE(result.ok());
    live.push_back(std::move(result).value());
  }
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  const size_t events = events_of(*host.store, "r1").size();

  // The kept result, exactly as a replay without the flag returns it.
  auto first = host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m1", "p1"));
  REQUIRE(first.ok());
  REQUIRE(first->replayed);
  CHECK_FALSE(first->deferred);
  CHECK(first->replayed->seq == live[0].seq);
  auto stored = host.store->read_payload_texts(RunId("r1"), {live[0].seq});
  REQUIRE(stored.ok());
  CHECK(first->replayed->recorded_payload == stored->at(0).text);
  CHECK(host.kernel->stats().kept_results_replayed == 1);

  // Another request at a recorded step (drift, under strict): deferred — no halt, nothing
  // noted. The same request then replays as if the other had never been asked.
  check_deferred(host, host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m2", "edited")),
                 events);
  auto status = host.kernel->status(kAcme, RunId("r1"));
  REQUIRE(status.ok());
  CHECK(*status == RunStatus::kRunning);
  auto second = host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m2", "p2"));
  REQUIRE(second.ok());
  REQUIRE(second->replayed);
  CHECK(second->replayed->seq == live[1].seq);
  // Without the flag the drift halts, as it always did.
  auto drifted = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("m3", "edited"));
  CHECK(drifted.status().error_kind() == ErrorKind::kReplayDrift);
  // A halted run defers too (the halt is the owning thread's to raise).
  check_deferred(host, host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m3", "p3")),
                 events_of(*host.store, "r1").size());
  CHECK(host.kernel->stats().kept_results_replayed == 2);
  CHECK(port.calls == 3);
}

TEST_CASE("a replay-only step defers a live step, a call in flight and a result not kept",
          "[kernel][replay][reload]") {
  KernelOptions options;
  Host host;
  ScriptedModel port;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("m1", "p1"), port).ok());
  auto in_flight = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("m2", "p2"));
  REQUIRE(in_flight.ok());
  REQUIRE(in_flight->call);
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  REQUIRE(host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m1", "p1"))->replayed);

  // The call the last execution left in flight: deferred, then adopted without the flag.
  const size_t events = events_of(*host.store, "r1").size();
  check_deferred(host, host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m2", "p2")),
                 events);
  auto adopted = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("m2", "p2"));
  REQUIRE(adopted.ok());
  CHECK(adopted->adopted == in_flight->pending.ticket());
  REQUIRE(host.kernel->finish_model(std::move(in_flight->pending), port(*in_flight->call)).ok());

  // A step never recorded: deferred with no step opened; live without the flag.
  const size_t recorded = events_of(*host.store, "r1").size();
  check_deferred(host, host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m3", "p3")),
                 recorded);
  CHECK(host.kernel->stats().pending_steps == 0);
  const int calls = port.calls;
  auto third = run_model(*host.kernel, "acme", "r1", prompt_request("m3", "p3"), port);
  REQUIRE(third.ok());
  CHECK_FALSE(third->replayed);
  CHECK(port.calls == calls + 1);

  // Nothing kept (a budget of 0): every recorded step defers; the ledger replays it.
  options.kept_result_bytes = 0;
  host.reopen(options);
  check_deferred(host, host.kernel->begin_model(kAcme, RunId("r1"), replay_only("m1", "p1")),
                 events_of(*host.store, "r1").size());
  auto from_ledger = host.kernel->begin_model(kAcme, RunId("r1"), prompt_request("m1", "p1"));
  REQUIRE(from_ledger.ok());
  CHECK(from_ledger->replayed);
  CHECK(host.kernel->stats().kept_results_replayed == 0);
}
