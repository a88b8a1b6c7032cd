// Host::tick keeps its budget: a script that never yields is preempted at the deadline (the
// count hook), a thousand ready runs share the budget in turn, and a tick with nothing ready
// or due does nothing however many runs wait, and a burst of answers spreads over ticks.
#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "artana/host/native_calls.h"
#include "host/host_fixture.h"

using namespace artana;
using namespace artana::testing;
using Clock = std::chrono::steady_clock;

namespace {

int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// Starts `runs` runs (ids prefix0, prefix1, …) that each ask the native port "npc-brain"
// once, and ticks until every one waits for it: `tokens` holds the port's tokens.
void start_waiting_runs(HostFixture& f, std::vector<uint64_t>& tokens, const std::string& prefix,
                        int runs) {
  REQUIRE(f.host
              ->add_native_port("npc-brain", [&tokens](const host::NativeCall&,
                                                       uint64_t token) { tokens.push_back(token); })
              .ok());
  const std::string path = f.script("wait.lua", R"lua(
return function(run)
  return run:model{ model = "npc-brain", messages = {{ role = "user", content = "go" }} }.output
end
)lua");
  for (int i = 0; i < runs; ++i)
    REQUIRE(f.host->start(path, acme_run(prefix + std::to_string(i))).ok());
  while (!f.host->idle()) f.host->tick(std::chrono::milliseconds(50));
}

// Answers every token with {output = {text = "ok"}}, all at once.
void answer_all(const std::vector<uint64_t>& tokens) {
  for (uint64_t token : tokens) {
    host::NativeReply reply;
    reply.value = kernel::Json::object({{"output", kernel::Json::object({{"text", "ok"}})}});
    REQUIRE(host::complete_native(token, std::move(reply)) == host::CompleteResult::kDone);
  }
}

// `runs` runs waiting for their port (start_waiting_runs), every one answered at once.
struct AnsweredRuns {
  std::vector<uint64_t> tokens;  // before the host: its port keeps a reference
  HostFixture f;
  AnsweredRuns(const std::string& prefix, int runs) {
    start_waiting_runs(f, tokens, prefix, runs);
    REQUIRE(tokens.size() == static_cast<size_t>(runs));
    answer_all(tokens);
  }
};

}  // namespace

TEST_CASE("an endless loop is preempted at each tick's deadline, then killed at its limit",
          "[host][tick]") {
  host::HostOptions options;
  // Slices of a billion instructions: only the deadline can end one inside a tick.
  options.limits.slice_instructions = 1'000'000'000;
  options.limits.max_instructions = 200'000'000;
  HostFixture f(options);
  const std::string path = f.script("spin.lua", R"lua(
return function(run)
  local n = 0
  while true do n = n + 1 end
end
)lua");
  REQUIRE(f.host->start(path, acme_run("spin")).ok());
  int ticks = 0;
  int64_t longest_ms = 0;
  while (!f.host->outcome(kernel::RunId("spin")) && ticks < 100'000) {
    const auto start = Clock::now();
    f.host->tick(std::chrono::milliseconds(2));
    longest_ms = std::max(longest_ms, elapsed_ms(start));
    ++ticks;
  }
  auto outcome = f.host->outcome(kernel::RunId("spin"));
  REQUIRE(outcome);
  INFO(text(outcome->error));
  CHECK(outcome->error.find("kind")->as_string() == "limit_exceeded");
  // 200 M instructions take far longer than one 2 ms tick: the loop was cut into many.
  CHECK(ticks > 10);
  // Each tick ended near its deadline (a loaded or sanitized machine gets room, not seconds).
  CHECK(longest_ms < 100);
}

TEST_CASE("a thousand ready runs share a tick's budget in turn and all finish", "[host][tick]") {
  HostFixture f;
  const std::string path = f.script("count.lua", R"lua(
return function(run, input)
  local total = 0
  for i = 1, 20000 do total = total + i % 7 end
  return { total = total, n = input.n }
end
)lua");
  constexpr int kRuns = 1000;
  for (int i = 0; i < kRuns; ++i) {
    host::RunOptions options = acme_run("r" + std::to_string(i));
    options.input = kernel::Json::object({{"n", i}});
    REQUIRE(f.host->start(path, std::move(options)).ok());
  }
  // One tick with a 5 ms budget: nowhere near enough for all (each run computes ~100 k
  // instructions), so it stops at the deadline with runs left ready.
  const auto start = Clock::now();
  host::TickResult first = f.host->tick(std::chrono::milliseconds(5));
  CHECK(elapsed_ms(start) < 150);
  CHECK(first.more_ready);
  CHECK(first.ready > 0);
  CHECK(first.resumed > 0);
  int ticks = 1;
  while (!f.host->idle() && ticks < 1'000'000) {
    f.host->tick(std::chrono::milliseconds(5));
    ++ticks;
  }
  for (int i = 0; i < kRuns; ++i) {
    auto outcome = f.host->outcome(kernel::RunId("r" + std::to_string(i)));
    REQUIRE(outcome);
    INFO(text(outcome->error));
    REQUIRE(outcome->status == kernel::RunStatus::kCompleted);
    CHECK(outcome->output.find("n")->as_integer() == i);
  }
  CHECK(ticks > 10);
}

TEST_CASE("a tick with nothing ready or due resumes nothing, whatever the runs held",
          "[host][tick]") {
  HostFixture f;
  std::vector<uint64_t> tokens;
  constexpr int kRuns = 200;
  start_waiting_runs(f, tokens, "w", kRuns);
  auto waiting = f.host->outcome(kernel::RunId("w0"));
  INFO((waiting ? text(waiting->error) : std::string("executing")));
  REQUIRE(tokens.size() == kRuns);  // every run waits for its port
  for (int i = 0; i < 1000; ++i) {
    host::TickResult idle = f.host->tick(std::chrono::milliseconds(1));
    REQUIRE(idle.resumed == 0);
    REQUIRE(!idle.more_ready);
    REQUIRE(idle.in_flight == kRuns);
  }
  // Answered: each run goes on and completes with what its port said.
  answer_all(tokens);
  while (!f.host->idle() || f.host->in_flight() > 0) f.host->tick(std::chrono::milliseconds(50));
  for (int i = 0; i < kRuns; ++i) {
    auto outcome = f.host->outcome(kernel::RunId("w" + std::to_string(i)));
    REQUIRE(outcome);
    CHECK(outcome->status == kernel::RunStatus::kCompleted);
  }
}

TEST_CASE(
    "a burst of answers is delivered over several ticks, each within its budget, and an "
    "answer left waiting for a run that went is dropped",
    "[host][tick]") {
  constexpr int kRuns = 500;
  AnsweredRuns answered("b", kRuns);  // a thousand NPCs' decisions coming in one frame
  HostFixture& f = answered.f;
  auto completed = [&] {
    int n = 0;
    for (int i = 0; i < kRuns; ++i) {
      auto outcome = f.host->outcome(kernel::RunId("b" + std::to_string(i)));
      if (outcome && outcome->status == kernel::RunStatus::kCompleted) ++n;
    }
    return n;
  };
  // A 1 ms tick hands over what fits (each answer is a step finished: a commit, a resume),
  // not all 500: the rest wait for the next ticks.
  const auto start = Clock::now();
  host::TickResult first = f.host->tick(std::chrono::milliseconds(1));
  CHECK(elapsed_ms(start) < 100);
  CHECK(first.more_ready);
  const int after_first = completed();
  CHECK(after_first < kRuns);
  // A run cancelled while its answer waits: the answer is dropped with it, not delivered.
  REQUIRE(f.host->cancel(kernel::RunId("b499"), "the player left").ok());
  int ticks = 1;
  while ((!f.host->idle() || f.host->in_flight() > 0) && ticks < 100'000) {
    f.host->tick(std::chrono::milliseconds(1));
    ++ticks;
  }
  CHECK(ticks > 2);
  CHECK(completed() == kRuns - 1);
  auto cancelled = f.host->outcome(kernel::RunId("b499"));
  REQUIRE(cancelled);
  CHECK(cancelled->status == kernel::RunStatus::kCancelled);
}

TEST_CASE(
    "a tick whose answers spent its budget begins no slice past the deadline, and the next "
    "tick begins one: a stream of answers never starves the runs",
    "[host][tick]") {
  constexpr int kRuns = 200;
  AnsweredRuns answered("s", kRuns);
  HostFixture& f = answered.f;
  // A 1 µs budget: each tick hands over one answer (one at least), which spends it.
  int ticks = 0, skipped = 0, skipped_twice = 0;
  bool last_skipped = false;
  while ((!f.host->idle() || f.host->in_flight() > 0) && ticks < 100'000) {
    const host::TickResult result = f.host->tick(std::chrono::microseconds(1));
    ++ticks;
    const bool skipped_now = result.resumed == 0 && result.more_ready;
    if (skipped_now) ++skipped;
    if (skipped_now && last_skipped) ++skipped_twice;
    last_skipped = skipped_now;
  }
  for (int i = 0; i < kRuns; ++i) {
    auto outcome = f.host->outcome(kernel::RunId("s" + std::to_string(i)));
    REQUIRE(outcome);
    CHECK(outcome->status == kernel::RunStatus::kCompleted);
  }
  CHECK(skipped > 0);         // a tick the answers spent began no slice past its deadline
  CHECK(skipped_twice == 0);  // and the next tick always began one
}
