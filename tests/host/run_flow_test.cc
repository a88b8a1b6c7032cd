// Pauses, sleeps, drift and halts through Lua.
#include <catch2/catch.hpp>

#include <algorithm>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

const char kPort[] = R"lua(local artana = require "artana"
local calls = 0
artana.model_port("m", function(req)
  calls = calls + 1
  print("call " .. req.step_key)
  return { output = { text = "re: " .. (req.prompt or "") }, usage = { cost_usd = 0.5 } }
end)
)lua";

TEST_CASE("a pause suspends the run, resume hands the input back to run:pause", "[host]") {
  HostFixture f;
  const std::string path = f.script("pause.lua", R"lua(
return function(run, input)
  local answer = run:pause("approve?", { amount = input.amount })
  return { answer = answer }
end
)lua");
  host::RunOutcome paused = f.run(path, "run-pause", Json::object({{"amount", 12}}));
  REQUIRE(paused.status == RunStatus::kPaused);
  REQUIRE(f.host->resume(kernel::RunId("run-pause"), Json("approved")).ok());
  host::RunOutcome done = f.drive("run-pause");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"answer":"approved"})");
  // A new process replays the pause with its input.
  f.restart();
  host::RunOutcome again = f.run(path, "run-pause");
  CHECK(text(again.output) == R"({"answer":"approved"})");
}

TEST_CASE("run:sleep is a durable timer woken by the clock, across processes", "[host]") {
  HostFixture f;
  const std::string path = f.script("sleep.lua", R"lua(
return function(run)
  local before = run:now()
  run:sleep(60)
  return { slept = run:now() - before >= 60 }
end
)lua");
  host::RunOutcome sleeping = f.run(path, "run-sleep");
  REQUIRE(sleeping.status == RunStatus::kSleeping);
  CHECK(f.count("run-sleep", "sleep_started") == 1);
  f.clock_us += 30'000'000;
  f.host->tick(std::chrono::milliseconds(10));
  REQUIRE(f.host->outcome(kernel::RunId("run-sleep"))->status == RunStatus::kSleeping);
  // Another process takes over after the due time.
  f.restart();
  f.clock_us += 31'000'000;
  host::RunOutcome woke = f.run(path, "run-sleep");
  INFO(text(woke.error));
  REQUIRE(woke.status == RunStatus::kCompleted);
  CHECK(text(woke.output) == R"({"slept":true})");
  CHECK(f.count("run-sleep", "sleep_completed") == 1);
}

TEST_CASE("wait_for_work ends when a run's timer comes due, not after the whole wait", "[host]") {
  HostFixture f;
  const std::string path = f.script("nap.lua", R"lua(
return function(run)
  run:sleep(60)
  return { woke = true }
end
)lua");
  REQUIRE(f.run(path, "run-nap").status == RunStatus::kSleeping);
  // The test's clock stands still: 0.1 s before the timer, a 30 s wait lasts 0.1 s.
  f.clock_us += 59'900'000;
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(f.host->wait_for_work(std::chrono::seconds(30)));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(100));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  // Due: at once, and the next tick wakes the run.
  f.clock_us += 100'000;
  start = std::chrono::steady_clock::now();
  CHECK(f.host->wait_for_work(std::chrono::seconds(30)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  host::RunOutcome woke = f.drive("run-nap");
  INFO(text(woke.error));
  CHECK(woke.status == RunStatus::kCompleted);
  CHECK(text(woke.output) == R"({"woke":true})");
}

TEST_CASE("a strict drift halts in needs_attention, pcall cannot turn it into success", "[host]") {
  HostFixture f;
  const std::string v1 = f.script("drift1.lua", std::string(kPort) + R"lua(
return function(run) local r = run:model { model = "m", prompt = "hello" }; run:pause("wait"); return r.output end
)lua");
  REQUIRE(f.run(v1, "run-drift").status == RunStatus::kPaused);
  const std::string v2 = f.script("drift2.lua", std::string(kPort) + R"lua(
return function(run)
  local ok, err = pcall(function() return run:model { model = "m", prompt = "hello, edited" } end)
  local ok2, err2 = pcall(function() return run:now() end)
  return { caught = err.kind, again = err2.kind }
end
)lua");
  f.restart();
  host::RunOutcome outcome = f.run(v2, "run-drift");
  REQUIRE(outcome.status == RunStatus::kNeedsAttention);
  CHECK(outcome.error.find("kind")->as_string() == "replay_drift");
  CHECK(outcome.error.find("step_key")->as_string() == "model:1");
  CHECK(f.count("run-drift", "run_completed") == 0);
}

TEST_CASE("fork_on_drift continues the edited run live in a fork", "[host]") {
  HostFixture f;
  const std::string v1 = f.script("fork1.lua", std::string(kPort) + R"lua(
return function(run) local r = run:model { model = "m", prompt = "first" }; run:pause("p"); return r.output end
)lua");
  REQUIRE(f.run(v1, "run-fork").status == RunStatus::kPaused);
  const std::string v2 = f.script("fork2.lua", std::string(kPort) + R"lua(
return function(run)
  local r = run:model { model = "m", prompt = "second", replay = "fork_on_drift" }
  return { text = r.output.text, run_id = r.run_id, replayed = r.replayed }
end
)lua");
  f.printed.clear();
  host::RunOutcome outcome = f.run(v2, "run-fork");  // hot reload in the same host
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("text")->as_string() == "re: second");
  CHECK_THAT(outcome.output.find("run_id")->as_string(), Catch::StartsWith("run-fork::fork::"));
  CHECK(f.count("run-fork", "replayed_with_drift") == 1);
  CHECK(f.printed == std::vector<std::string>{"call model:1"});
}

TEST_CASE("a script error while replaying recorded steps halts for attention", "[host]") {
  HostFixture f;
  const std::string v1 = f.script("ok.lua", std::string(kPort) + R"lua(
return function(run) run:model { model = "m", prompt = "a" }; run:model { model = "m", prompt = "b" }; run:pause("p") end
)lua");
  REQUIRE(f.run(v1, "run-broken").status == RunStatus::kPaused);
  const std::string v2 = f.script("broken.lua", std::string(kPort) + R"lua(
return function(run) run:model { model = "m", prompt = "a" }; local x = nil; return x.field end
)lua");
  f.restart();
  host::RunOutcome outcome = f.run(v2, "run-broken");
  REQUIRE(outcome.status == RunStatus::kNeedsAttention);
  CHECK(f.count("run-broken", "run_failed") == 0);
  CHECK(f.count("run-broken", "run_halted") == 1);
}

TEST_CASE("a model output that misses the schema is model_output_invalid", "[host]") {
  HostFixture f;
  const std::string path = f.script("schema.lua", std::string(kPort) + R"lua(
return function(run)
  local ok, err = pcall(function() return run:model { model = "m", prompt = "x", schema = { score = "number" } } end)
  return { kind = err.kind, step = err.step_key }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-schema");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"kind":"model_output_invalid","step":"model:1"})");
}

TEST_CASE("a model port's error is model_failed and recorded", "[host]") {
  HostFixture f;
  const std::string path = f.script("portfail.lua", R"lua(
local artana = require "artana"
artana.model_port("m", function(req) error("rate limited") end)
return function(run)
  local ok, err = pcall(run.model, run, { model = "m", prompt = "x" })
  local ok2, err2 = pcall(run.model, run, { model = "nope", prompt = "x" })
  return { kind = err.kind, missing = err2.kind }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-portfail");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"kind":"model_failed","missing":"model_failed"})");
  CHECK(f.count("run-portfail", "model_failed") == 1);
}

TEST_CASE("pinned execution runs a run under the sources it recorded, not the files now",
          "[host]") {
  HostFixture f;
  f.script("lib/greet.lua", "return { word = 'hello' }\n");
  const std::string path = f.script("pinned.lua", std::string(kPort) + R"lua(
local greet = require "lib.greet"
return function(run)
  local r = run:model { model = "m", prompt = greet.word }
  local input = run:pause("go?")
  return { text = r.output.text, input = input }
end
)lua");
  REQUIRE(f.run(path, "run-pinned").status == RunStatus::kPaused);
  // The files change: a new prompt in the module would be a strict drift.
  f.script("lib/greet.lua", "return { word = 'changed' }\n");
  f.script("pinned.lua", "return function(run) error('new code') end\n");
  f.restart();
  REQUIRE(f.kernel_host.kernel
              ->resume(kernel::TenantId("acme"), kernel::RunId("run-pinned"), Json("yes"))
              .ok());
  host::RunOptions pinned;
  pinned.pinned = true;
  host::RunOutcome outcome =
      f.run("/nonexistent/ignored.lua", "run-pinned", Json::object(), pinned);
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"input":"yes","text":"re: hello"})");
}

TEST_CASE("reload restarts a busy run under the new code, which replays", "[host]") {
  HostFixture f;
  const std::string path = f.script("busy.lua", std::string(kPort) + R"lua(
return function(run)
  local r = run:model { model = "m", prompt = "kept" }
  local n = 0
  for i = 1, 1e12 do n = n + 1 end  -- busy for a very long time
  return "old"
end
)lua");
  host::RunOptions options;
  options.run_id = kernel::RunId("run-reload");
  options.tenant.tenant_id = kernel::TenantId("acme");
  REQUIRE(f.host->start(path, options).ok());
  // Until the model step is recorded and the loop has taken a few slices.
  for (int i = 0; i < 50; ++i) f.host->tick(std::chrono::milliseconds(1));
  REQUIRE(f.count("run-reload", "model_completed") == 1);
  REQUIRE(!f.host->idle());
  f.script("busy.lua", std::string(kPort) + R"lua(
return function(run)
  local r = run:model { model = "m", prompt = "kept" }
  return { text = r.output.text, replayed = r.replayed }
end
)lua");
  f.printed.clear();
  REQUIRE(f.host->reload(kernel::RunId("run-reload")).ok());
  host::RunOutcome outcome = f.drive("run-reload");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"replayed":true,"text":"re: kept"})");
  CHECK(f.printed.empty());
}

}  // namespace
}  // namespace artana::testing

namespace artana::testing {
namespace {

// Ticks with no time budget: one pass, each execution (the old ones' calls included) one slice.
void one_pass(HostFixture& f, int passes) {
  for (int i = 0; i < passes; ++i) f.host->tick(std::chrono::microseconds(0));
}

size_t count_lines(const std::vector<std::string>& lines, const std::string& line) {
  return static_cast<size_t>(std::count(lines.begin(), lines.end(), line));
}

// A script whose model port prints "call" and counts to `count` (one slice per 10 000
// instructions), and whose entry returns the port's output.
std::string slow_port_script(const std::string& count) {
  return R"lua(local artana = require "artana"
artana.model_port("m", function(req)
  print("call")
  local n = 0
  for i = 1, )lua" +
         count + R"lua( do n = n + 1 end
  return { output = n }
end)
return function(run)
  return run:model { model = "m", prompt = "p" }.output
end
)lua";
}

// Starts `path` as `run_id` and ticks until its call is in flight.
void start_until_live(HostFixture& f, const std::string& path, const std::string& run_id) {
  host::RunOptions options;
  options.run_id = kernel::RunId(run_id);
  options.tenant.tenant_id = kernel::TenantId("acme");
  REQUIRE(f.host->start(path, options).ok());
  for (int t = 0; t < 100 && f.host->kernel().stats().pending_steps == 0; ++t) one_pass(f, 1);
  REQUIRE(f.host->kernel().stats().pending_steps == 1);
}

TEST_CASE("1000 reloads in the middle of a model call: the call is made once and adopted",
          "[host][reload]") {
  HostFixture f;
  // 4e7 loop iterations: longer than 1000 reloads of five slices each (one slice per pass).
  const std::string path = f.script("slow.lua", slow_port_script("4e7"));
  start_until_live(f, path, "run-slow");
  auto pending = [&] { return f.host->kernel().stats().pending_steps; };
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(f.host->reload(kernel::RunId("run-slow")).ok());
    one_pass(f, 5);
    INFO("reload " << i);
    REQUIRE(pending() == 1);  // the same call, never a second one
    REQUIRE(count_lines(f.printed, "call") == 1);
    REQUIRE(f.count("run-slow", "model_requested") == 0);  // still running
  }
  host::RunOutcome outcome = f.drive("run-slow");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.as_integer() == 40'000'000);
  CHECK(count_lines(f.printed, "call") == 1);
  CHECK(f.count("run-slow", "model_requested") == 1);
  CHECK(f.count("run-slow", "model_completed") == 1);
  CHECK(pending() == 0);
}

TEST_CASE("a reload that asks the model otherwise abandons the old call and makes its own",
          "[host][reload]") {
  HostFixture f;
  const char kSlowPort[] = R"lua(local artana = require "artana"
artana.model_port("m", function(req)
  print("call " .. req.prompt)
  local n = 0
  for i = 1, 1e6 do n = n + 1 end
  return { output = req.prompt }
end)
)lua";
  const std::string path = f.script("ask.lua", std::string(kSlowPort) + R"lua(
return function(run) return run:model { model = "m", prompt = "old" }.output end
)lua");
  start_until_live(f, path, "run-ask");
  auto pending = [&] { return f.host->kernel().stats().pending_steps; };
  f.script("ask.lua", std::string(kSlowPort) + R"lua(
return function(run) return run:model { model = "m", prompt = "new" }.output end
)lua");
  REQUIRE(f.host->reload(kernel::RunId("run-ask")).ok());
  host::RunOutcome outcome = f.drive("run-ask");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.as_string() == "new");
  CHECK(f.printed == std::vector<std::string>{"call old", "call new"});
  CHECK(f.count("run-ask", "model_requested") == 1);  // only the new request is recorded
  CHECK(pending() == 0);
}

TEST_CASE("a reload during a side-effecting tool adopts it: it runs once, no unknown outcome",
          "[host][reload][tool]") {
  HostFixture f;
  const std::string path = f.script("charge.lua", R"lua(local artana = require "artana"
artana.tool { name = "charge", side_effect = true, args = { amount = "integer" },
              fn = function(args, ctx)
                print("CHARGED " .. args.amount)
                local n = 0
                for i = 1, 2e6 do n = n + 1 end
                return { charged = args.amount }
              end }
return function(run) return run:tool("charge", { amount = 5 }).result end
)lua");
  start_until_live(f, path, "run-charge");
  REQUIRE(f.count("run-charge", "tool_requested") == 1);  // committed: the tool is running
  for (int i = 0; i < 20; ++i) {
    REQUIRE(f.host->reload(kernel::RunId("run-charge")).ok());
    one_pass(f, 3);
  }
  host::RunOutcome outcome = f.drive("run-charge");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"charged":5})");
  CHECK(count_lines(f.printed, "CHARGED 5") == 1);
  CHECK(f.count("run-charge", "tool_requested") == 1);
  CHECK(f.count("run-charge", "tool_completed") == 1);
  for (const kernel::Event& e : f.events("run-charge")) {
    const kernel::Json* outcome_name = e.payload.find("outcome");
    CHECK((outcome_name == nullptr || outcome_name->as_string() == "success"));
  }
  CHECK(f.host->kernel().stats().pending_steps == 0);
}

TEST_CASE("a host going away with a call in flight leaves nothing pending in the kernel",
          "[host][reload]") {
  HostFixture f;
  const std::string path = f.script("slow.lua", slow_port_script("1e12"));  // many slices
  start_until_live(f, path, "run-slow");
  auto pending = [&] { return f.host->kernel().stats().pending_steps; };
  REQUIRE(f.host->reload(kernel::RunId("run-slow")).ok());  // an old execution draining too
  one_pass(f, 3);
  REQUIRE(pending() == 1);
  f.host.reset();
  kernel::KernelStats stats = f.kernel_host.kernel->stats();
  CHECK(stats.pending_steps == 0);
  CHECK(f.count("run-slow", "model_requested") == 0);
}

}  // namespace
}  // namespace artana::testing

namespace artana::testing {
namespace {

TEST_CASE(
    "a side-effecting Lua tool that raises its own error halts for reconciliation, "
    "declared failures do not",
    "[host][tool]") {
  HostFixture f;
  const std::string path = f.script("raising.lua", R"lua(local artana = require "artana"
artana.tool { name = "crashes", side_effect = true, args = {},
              fn = function(args, ctx) error("the card service dropped the connection") end }
artana.tool { name = "declines", side_effect = true, args = {},
              fn = function(args, ctx) error({ kind = "permanent_error", message = "declined" }) end }
return function(run)
  local ok, declined = pcall(run.tool, run, "declines", {})
  local ok2, crashed = pcall(run.tool, run, "crashes", {})
  return { declined = declined.kind, crashed = crashed.kind }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-raising");
  INFO(text(outcome.error));
  CHECK(outcome.status == RunStatus::kNeedsAttention);
  CHECK(outcome.error.find("kind")->as_string() == "reconciliation_required");
  auto events = f.events("run-raising");
  std::vector<std::string> outcomes;
  for (const kernel::Event& e : events) {
    if (e.type == "tool_completed") outcomes.push_back(e.payload.find("outcome")->as_string());
  }
  CHECK(outcomes == std::vector<std::string>{"permanent_error", "unknown_outcome"});
}

}  // namespace
}  // namespace artana::testing
