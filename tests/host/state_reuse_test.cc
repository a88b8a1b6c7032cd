// A hot reload's new execution takes its run's lua_State from the old execution when that one
// runs no Lua any more (StatePool::reuse): it must start as clean as in a new state — its
// own artana module, tools, ports and loaded modules — and replay and adopt as ever.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "artana/host/native_calls.h"
#include "host/host_fixture.h"

using namespace artana;
using namespace artana::testing;

namespace {

// Ticks until nothing is ready (the run waits for the application's answer).
void settle(HostFixture& f) {
  while (!f.host->idle()) f.host->tick(std::chrono::milliseconds(50));
}

// Registers the native port "brain", which queues each call's token in `tokens` (answered
// later with answer()).
void queue_brain_calls(HostFixture& f, std::vector<uint64_t>& tokens) {
  REQUIRE(f.host
              ->add_native_port("brain", [&tokens](const host::NativeCall&,
                                                   uint64_t token) { tokens.push_back(token); })
              .ok());
}

void answer(uint64_t token, const std::string& text) {
  host::NativeReply reply;
  reply.value = kernel::Json::object({{"output", kernel::Json::object({{"text", text}})}});
  REQUIRE(host::complete_native(token, std::move(reply)) == host::CompleteResult::kDone);
}

// What an execution changes in its module and in a module it requires, counted at the top
// level: a state that kept the last execution's would count 2.
std::string marking_script(const std::string& tool) {
  return R"lua(local artana = require "artana"
local counter = require "counter"
counter.uses = (counter.uses or 0) + 1
artana.marks = (artana.marks or 0) + 1
artana.tool { name = ")lua" +
         tool + R"lua(", fn = function(args) return args end }
return function(run)
  local first = run:model { model = "brain", prompt = "one" }.output.text
  local second = run:model { model = "brain", prompt = "two" }.output.text
  return { uses = counter.uses, marks = artana.marks, said = first .. "," .. second }
end
)lua";
}

TEST_CASE("a reload reuses the old execution's state, and the new one starts clean",
          "[host][reload]") {
  HostFixture f;
  std::vector<uint64_t> tokens;
  queue_brain_calls(f, tokens);
  f.script("counter.lua", "return { loads = 1 }\n");
  const std::string path = f.script("marks.lua", marking_script("note"));
  REQUIRE(f.host->start(path, acme_run("run-reuse")).ok());
  settle(f);
  REQUIRE(tokens.size() == 1);
  answer(tokens[0], "a");
  settle(f);
  REQUIRE(tokens.size() == 2);  // the second call is in flight

  // New code (another tool's name) while the second call is in flight: the old execution
  // drains, its state goes to the new one, which replays the first step and adopts the call.
  f.script("marks.lua", marking_script("jot"));
  REQUIRE(f.host->reload(kernel::RunId("run-reuse")).ok());
  settle(f);
  CHECK(f.host->states_reused() == 1);
  CHECK(tokens.size() == 2);  // adopted: not asked again
  // Reloaded again while the call is still in flight (now the adopted one): the state goes
  // on to the third execution as well.
  REQUIRE(f.host->reload(kernel::RunId("run-reuse")).ok());
  settle(f);
  CHECK(f.host->states_reused() == 2);
  CHECK(tokens.size() == 2);
  answer(tokens[1], "b");
  host::RunOutcome outcome = f.drive("run-reuse");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"marks":1,"said":"a,b","uses":1})");
  CHECK(f.count("run-reuse", "model_requested") == 2);
  CHECK(f.count("run-reuse", "model_completed") == 2);

  // Reloaded again, ended: nothing restarts, and a new process replays it alike.
  f.restart();
  host::RunOutcome again = f.run(path, "run-reuse");
  CHECK(text(again.output) == R"({"marks":1,"said":"a,b","uses":1})");
}

// Six runs of marks.lua, each with its first call answered and its second in flight.
struct SixRuns {
  HostFixture f;
  std::vector<uint64_t> tokens;  // every port call, in order
  std::string path;
  static constexpr int kRuns = 6;

  SixRuns() {
    queue_brain_calls(f, tokens);
    f.script("counter.lua", "return { loads = 1 }\n");
    path = f.script("marks.lua", marking_script("note"));
    for (int i = 0; i < kRuns; ++i) REQUIRE(f.host->start(path, acme_run(id(i))).ok());
    settle(f);
    REQUIRE(tokens.size() == kRuns);
    for (uint64_t token : tokens) answer(token, "a");
    settle(f);
    REQUIRE(tokens.size() == 2 * kRuns);  // every second call in flight
  }
  static std::string id(int i) { return "run-many-" + std::to_string(i); }

  // Answers the calls in flight; every run completes as if never reloaded, each call made
  // once (the new executions adopted the old ones' calls).
  void finish() {
    for (size_t i = kRuns; i < tokens.size(); ++i) answer(tokens[i], "b");
    settle(f);
    CHECK(tokens.size() == 2 * kRuns);
    for (int i = 0; i < kRuns; ++i) {
      host::RunOutcome outcome = f.drive(id(i));
      INFO(id(i) << ": " << text(outcome.error));
      REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
      CHECK(text(outcome.output) == R"({"marks":1,"said":"a,b","uses":1})");
      CHECK(f.count(id(i), "model_requested") == 2);
      CHECK(f.count(id(i), "model_completed") == 2);
    }
  }
};

TEST_CASE("a reload of many runs has their states recycled on the pool's thread",
          "[host][reload]") {
  SixRuns six;
  six.f.script("marks.lua", marking_script("jot"));
  std::vector<host::ReloadOutcome> told;
  REQUIRE(six.f.host->reload_script(six.path, [&](const host::ReloadReport& report) {
    told.push_back(report.outcome);
  }) == SixRuns::kRuns);
  settle(six.f);
  // Each new execution waited for its state, readied off this thread, and began with it.
  CHECK(six.f.host->states_recycled_off_thread() == SixRuns::kRuns);
  CHECK(six.f.host->states_reused() == SixRuns::kRuns);
  CHECK(told.size() == SixRuns::kRuns);
  CHECK(std::count(told.begin(), told.end(), host::ReloadOutcome::kContinued) == SixRuns::kRuns);
  six.finish();
}

TEST_CASE("old executions whose calls were adopted are kept until those calls end, then go",
          "[host][reload]") {
  SixRuns six;
  six.f.script("marks.lua", marking_script("jot"));
  REQUIRE(six.f.host->reload_script(six.path, nullptr) == SixRuns::kRuns);
  settle(six.f);
  // Each new execution adopted its old one's call: the old ones wait for them, held.
  for (int tick = 0; tick < 100; ++tick) six.f.host->tick(std::chrono::milliseconds(1));
  CHECK(six.f.host->old_executions() == SixRuns::kRuns);
  // Reloaded again: the middle executions (waiting on an adopted call, making none) go at
  // once, and the third executions adopt the first ones' calls.
  REQUIRE(six.f.host->reload_script(six.path, nullptr) == SixRuns::kRuns);
  settle(six.f);
  for (int tick = 0; tick < 100; ++tick) six.f.host->tick(std::chrono::milliseconds(1));
  CHECK(six.f.host->old_executions() == SixRuns::kRuns);
  CHECK(six.tokens.size() == 2 * SixRuns::kRuns);  // adopted, not asked again
  // Half the calls end: their old executions go; the others stay for theirs.
  for (int i = 0; i < SixRuns::kRuns / 2; ++i) answer(six.tokens[SixRuns::kRuns + i], "b");
  settle(six.f);
  for (int tick = 0; tick < 100; ++tick) six.f.host->tick(std::chrono::milliseconds(1));
  CHECK(six.f.host->old_executions() == SixRuns::kRuns / 2);
  for (int i = SixRuns::kRuns / 2; i < SixRuns::kRuns; ++i)
    answer(six.tokens[SixRuns::kRuns + i], "b");
  settle(six.f);
  for (int tick = 0; tick < 100; ++tick) six.f.host->tick(std::chrono::milliseconds(1));
  CHECK(six.f.host->old_executions() == 0);
  for (int i = 0; i < SixRuns::kRuns; ++i) {
    host::RunOutcome outcome = six.f.drive(SixRuns::id(i));
    INFO(SixRuns::id(i) << ": " << text(outcome.error));
    REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
    CHECK(text(outcome.output) == R"({"marks":1,"said":"a,b","uses":1})");
    CHECK(six.f.count(SixRuns::id(i), "model_requested") == 2);
  }
}

TEST_CASE("a run reloaded, suspended or resumed while its state is being recycled loses nothing",
          "[host][reload]") {
  SixRuns six;
  six.f.script("marks.lua", marking_script("jot"));
  // Reloaded twice before a tick: the first new execution, still waiting for its state,
  // gives way to the second (which makes a state of its own); its recycled state is closed.
  REQUIRE(six.f.host->reload(kernel::RunId(SixRuns::id(0))).ok());
  REQUIRE(six.f.host->reload(kernel::RunId(SixRuns::id(0))).ok());
  // Reloaded, then the whole script suspended before the state came back, then resumed.
  REQUIRE(six.f.host->reload(kernel::RunId(SixRuns::id(1))).ok());
  REQUIRE(six.f.host->suspend_script(six.path) == SixRuns::kRuns);
  CHECK(six.f.host->resume_script(six.path) == SixRuns::kRuns);
  settle(six.f);
  CHECK(six.tokens.size() == 2 * SixRuns::kRuns);  // no call made again
  six.finish();
}

TEST_CASE("a reload while a Lua model port answers keeps that state for the port",
          "[host][reload]") {
  HostFixture f;
  // The port runs in the old execution's state until it returns: the new one gets its own.
  const std::string path = f.script("slow.lua", R"lua(local artana = require "artana"
artana.model_port("m", function(req)
  print("call")
  local n = 0
  for i = 1, 3e6 do n = n + 1 end
  return { output = n }
end)
return function(run)
  return run:model { model = "m", prompt = "p" }.output
end
)lua");
  REQUIRE(f.host->start(path, acme_run("run-port")).ok());
  for (int t = 0; t < 100 && f.host->kernel().stats().pending_steps == 0; ++t)
    f.host->tick(std::chrono::microseconds(0));
  REQUIRE(f.host->kernel().stats().pending_steps == 1);
  REQUIRE(f.host->reload(kernel::RunId("run-port")).ok());
  host::RunOutcome outcome = f.drive("run-port");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
  CHECK(outcome.output.as_integer() == 3'000'000);
  CHECK(f.host->states_reused() == 0);
  CHECK(std::count(f.printed.begin(), f.printed.end(), "call") == 1);
  CHECK(f.count("run-port", "model_requested") == 1);
}

}  // namespace

// What a reload hands from one execution to the next instead of reading the run's record
// again (RunFacts): the recorded input, the tenant and the seed of run:random. A random
// drawn live after the reload must be the one an uninterrupted execution draws.
TEST_CASE("a reloaded run keeps its input, tenant and seed", "[host][reload]") {
  const std::string script = R"lua(return function(run, input)
  local a = run:random()
  local said = run:model { model = "brain", prompt = input.topic }.output.text
  local b = run:random()
  return { topic = input.topic, tenant = run.tenant, said = said, a = a, b = b }
end
)lua";
  auto execute = [&](bool reload) {
    HostFixture f;
    std::vector<uint64_t> tokens;
    queue_brain_calls(f, tokens);
    const std::string path = f.script("facts.lua", script);
    host::RunOptions options = acme_run("run-facts");
    options.input = kernel::Json::object({{"topic", "tides"}});
    options.seed = 424242;
    REQUIRE(f.host->start(path, options).ok());
    settle(f);
    REQUIRE(tokens.size() == 1);
    if (reload) {  // twice: the second execution hands over what it was handed
      REQUIRE(f.host->reload(kernel::RunId("run-facts")).ok());
      settle(f);
      REQUIRE(f.host->reload(kernel::RunId("run-facts")).ok());
      settle(f);
      CHECK(f.host->states_reused() == 2);
    }
    REQUIRE(tokens.size() == 1);  // adopted, not asked again
    answer(tokens[0], "ebb");
    host::RunOutcome outcome = f.drive("run-facts");
    INFO(text(outcome.error));
    REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
    return text(outcome.output);
  };
  const std::string reloaded = execute(true);
  CHECK(reloaded == execute(false));
  CHECK(reloaded.find(R"("topic":"tides")") != std::string::npos);
  CHECK(reloaded.find(R"("tenant":"acme")") != std::string::npos);
}

// A reload whose new execution cannot be made (its script file gone) loses nothing: the
// listener hears `halted_error` naming the file, the run waits suspended with its call in
// flight, and a later reload of the restored file goes on from there.
TEST_CASE("a reload that cannot start the new execution keeps the run and tells the listener",
          "[host][reload]") {
  HostFixture f;
  std::vector<uint64_t> tokens;
  queue_brain_calls(f, tokens);
  const std::string source = R"lua(return function(run)
  local first = run:model { model = "brain", prompt = "one" }.output.text
  local second = run:model { model = "brain", prompt = "two" }.output.text
  return first .. "," .. second
end
)lua";
  const std::string path = f.script("gone.lua", source);
  REQUIRE(f.host->start(path, acme_run("run-gone")).ok());
  settle(f);
  answer(tokens.at(0), "a");
  settle(f);
  REQUIRE(tokens.size() == 2);  // the second call is in flight

  std::filesystem::remove(path);
  std::vector<host::ReloadReport> told;
  REQUIRE(f.host->reload_script(
              path, [&](const host::ReloadReport& report) { told.push_back(report); }) == 1);
  settle(f);
  REQUIRE(told.size() == 1);
  CHECK(told[0].outcome == host::ReloadOutcome::kHaltedError);
  CHECK(text(told[0].detail).find("gone.lua") != std::string::npos);
  // Not lost: still known to the host, and a direct reload naming a missing file says so
  // and keeps it as well.
  REQUIRE(f.host->outcome(kernel::RunId("run-gone")).has_value());
  CHECK_FALSE(f.host->reload(kernel::RunId("run-gone"), path + ".missing").ok());
  REQUIRE(f.host->outcome(kernel::RunId("run-gone")).has_value());

  f.script("gone.lua", source);
  told.clear();
  REQUIRE(f.host->reload_script(
              path, [&](const host::ReloadReport& report) { told.push_back(report); }) == 1);
  settle(f);
  REQUIRE(told.size() == 1);
  CHECK(told[0].outcome == host::ReloadOutcome::kContinued);
  CHECK(tokens.size() == 2);  // the call in flight adopted, not made again
  answer(tokens[1], "b");
  host::RunOutcome outcome = f.drive("run-gone");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"("a,b")");
  CHECK(f.count("run-gone", "model_requested") == 2);
}
