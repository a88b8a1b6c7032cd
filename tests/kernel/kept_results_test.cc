// Recorded results kept in memory for the next execution of a run in this process
// (KernelOptions::kept_result_bytes): a hot reload's replay answers from them, exactly as the
// ledger would, within the budget, and for the terminal they were kept for only.
#include <catch2/catch.hpp>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

using Host = KernelHost;

// Runs `steps` live model steps m1..mN of `run`; their results.
std::vector<ModelResult> live_steps(Host& host, ScriptedModel& port, const std::string& run,
                                    int steps) {
  std::vector<ModelResult> results;
  for (int i = 1; i <= steps; ++i) {
    auto result = run_model(*host.kernel, "acme", run,
                            prompt_request("m" + std::to_string(i), "p" + std::to_string(i)), port);
    REQUIRE(result.ok());
    REQUIRE_FALSE(result->replayed);
    results.push_back(std::move(result).value());
  }
  return results;
}

// Replays m1..mN of `run` (a new execution must have begun) and checks each against `live`.
void replay_matches(Host& host, ScriptedModel& port, const std::string& run,
                    const std::vector<ModelResult>& live) {
  const int calls = port.calls;
  for (size_t i = 0; i < live.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    auto replayed = run_model(*host.kernel, "acme", run, prompt_request("m" + n, "p" + n), port);
    REQUIRE(replayed.ok());
    CHECK(replayed->replayed);
    CHECK(replayed->seq == live[i].seq);
    CHECK(replayed->output == live[i].output);
    CHECK(replayed->usage == live[i].usage);
    CHECK(replayed->cost_micro_usd == live[i].cost_micro_usd);
  }
  CHECK(port.calls == calls);  // nothing was called again
}

}  // namespace

TEST_CASE("a reload replays the results recorded here from memory, as the ledger has them",
          "[kernel][replay][reload]") {
  Host host;
  ScriptedModel port;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  const std::vector<ModelResult> live = live_steps(host, port, "r1", 5);
  const KernelStats recorded = host.kernel->stats();
  CHECK(recorded.kept_result_bytes > 0);
  CHECK(recorded.kept_results_replayed == 0);

  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  replay_matches(host, port, "r1", live);
  CHECK(host.kernel->stats().kept_results_replayed == 5);
  CHECK(host.kernel->stats().kept_result_bytes == recorded.kept_result_bytes);

  // The script's text of a result (what the Lua host pushes) is the ledger's, byte for byte.
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  ModelRequest as_text = prompt_request("m1", "p1");
  as_text.result_as_text = true;
  auto kept = host.kernel->begin_model(kAcme, RunId("r1"), as_text);
  REQUIRE(kept.ok());
  REQUIRE(kept->replayed);
  auto stored = host.store->read_payload_texts(RunId("r1"), {live[0].seq});
  REQUIRE(stored.ok());
  CHECK(kept->replayed->recorded_payload == stored->at(0).text);

  // A new process reads them from the ledger, and keeps them for its own next execution.
  host.reopen();
  replay_matches(host, port, "r1", live);
  CHECK(host.kernel->stats().kept_results_replayed == 0);
  CHECK(host.kernel->stats().kept_result_bytes == recorded.kept_result_bytes);
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  replay_matches(host, port, "r1", live);
  CHECK(host.kernel->stats().kept_results_replayed == 5);

  // Unloaded, the run's kept results are let go; and those of a run that ended.
  REQUIRE(host.kernel->unload(kAcme, RunId("r1")).ok());
  CHECK(host.kernel->stats().kept_result_bytes == 0);
  REQUIRE(host.kernel->start_run(start_request("r2")).ok());
  live_steps(host, port, "r2", 2);
  CHECK(host.kernel->stats().kept_result_bytes > 0);
  REQUIRE(host.kernel->complete(kAcme, RunId("r2"), Json::object()).ok());
  CHECK(host.kernel->stats().kept_result_bytes == 0);
}

TEST_CASE("kept results stay within their budget, the steps past it read from the ledger",
          "[kernel][replay][reload]") {
  size_t one = 0;
  {
    Host sizing;
    ScriptedModel port;
    REQUIRE(sizing.kernel->start_run(start_request("r0")).ok());
    live_steps(sizing, port, "r0", 1);
    one = sizing.kernel->stats().kept_result_bytes;
    REQUIRE(one > 0);
  }
  KernelOptions options;
  options.kept_result_bytes = 2 * one + one / 2;  // two results fit, not three
  Host host;
  host.reopen(options);
  ScriptedModel port;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  const std::vector<ModelResult> live = live_steps(host, port, "r1", 5);
  CHECK(host.kernel->stats().kept_result_bytes == 2 * one);
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  replay_matches(host, port, "r1", live);
  CHECK(host.kernel->stats().kept_results_replayed == 2);
  CHECK(host.kernel->stats().kept_result_bytes <= options.kept_result_bytes);

  options.kept_result_bytes = 0;  // none kept: every replay reads the ledger
  host.reopen(options);
  REQUIRE(host.kernel->start_run(start_request("r2")).ok());
  const std::vector<ModelResult> unkept = live_steps(host, port, "r2", 3);
  REQUIRE(host.kernel->reload(kAcme, RunId("r2")).ok());
  replay_matches(host, port, "r2", unkept);
  CHECK(host.kernel->stats().kept_result_bytes == 0);
  CHECK(host.kernel->stats().kept_results_replayed == 0);
}

TEST_CASE("a kept result stands for its terminal only: a failure retried replays the new answer",
          "[kernel][replay][reload]") {
  Host host;
  ScriptedModel port;
  port.answer = [](const ModelCall&) {
    ModelOutcome failed;
    failed.ok = false;
    failed.transient = true;
    failed.error = "rate limited";
    return failed;
  };
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  auto failed = run_model(*host.kernel, "acme", "r1", prompt_request("m1", "p1"), port);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().message().find("rate limited") != std::string::npos);

  // Replayed from memory: the same recorded failure.
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  auto again = run_model(*host.kernel, "acme", "r1", prompt_request("m1", "p1"), port);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().message().find("rate limited") != std::string::npos);
  CHECK(again.status().message().find("recorded at seq") != std::string::npos);
  CHECK(host.kernel->stats().kept_results_replayed == 1);
  CHECK(port.calls == 1);
  host.reopen();  // the ledger's copy gives the same error
  auto read = run_model(*host.kernel, "acme", "r1", prompt_request("m1", "p1"), port);
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().message() == again.status().message());
  CHECK(read.status().kind() == again.status().kind());
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());

  // Retried: live again, and the next execution replays the answer, not the failure.
  port.answer = nullptr;
  ModelRequest retry = prompt_request("m1", "p1");
  retry.retry_failed = true;
  auto answered = run_model(*host.kernel, "acme", "r1", retry, port);
  REQUIRE(answered.ok());
  REQUIRE_FALSE(answered->replayed);
  CHECK(port.calls == 2);
  REQUIRE(host.kernel->reload(kAcme, RunId("r1")).ok());
  auto replayed = run_model(*host.kernel, "acme", "r1", retry, port);
  REQUIRE(replayed.ok());
  CHECK(replayed->replayed);
  CHECK(replayed->output == answered->output);
  CHECK(port.calls == 2);
  CHECK(host.kernel->stats().kept_results_replayed == 1);  // this process's: the answer
}
