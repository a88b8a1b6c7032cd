// artana.harness (stdlib/harness.lua): wakes and their summaries, what happens between
// wakes, errors and halts, the incremental harness's units (one per wake, retries, its
// rules, progress), re-execution and hot reload keeping what was recorded, and the
// test-driven harness, whose units are done only through a passing check.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "artana/kernel/json_parse.h"
#include "stdlib/sample_cli.h"
#include "stdlib/stdlib_fixture.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

const char kRequire[] = R"lua(local artana = require "artana"
local harness = require "artana.harness"
)lua";

std::string lua(const std::string& body) { return std::string(kRequire) + body; }

std::string str(const Json* value) {
  return value != nullptr && value->is_string() ? value->as_string() : "";
}

// The run_summary kinds of a run in order, each with its step key: "kind step_key".
std::vector<std::string> harness_summaries(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : f.events(run)) {
    const std::string kind = str(e.payload.find("kind"));
    if (e.type == "run_summary" && kind.rfind("harness_", 0) == 0)
      out.push_back(kind + " " + str(e.payload.find("step_key")));
  }
  return out;
}

// The keys of a run's task_progress summaries, in order.
std::vector<std::string> progress_keys(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : summaries_of(f, run, "task_progress"))
    out.push_back(str(e.payload.find("key")));
  return out;
}

// How many events of `type` a run has whose step key contains `part`.
size_t count_steps(HostFixture& f, const std::string& run, const std::string& type,
                   const std::string& part) {
  size_t n = 0;
  for (const kernel::Event& e : f.events(run))
    n += e.type == type && str(e.payload.find("step_key")).find(part) != std::string::npos;
  return n;
}

size_t count_printed(const HostFixture& f, const std::string& prefix) {
  size_t n = 0;
  for (const std::string& line : f.printed) n += line.rfind(prefix, 0) == 0;
  return n;
}

void resume(HostFixture& f, const std::string& run, Json input) {
  REQUIRE(f.kernel_host.kernel->resume(kernel::TenantId("acme"), kernel::RunId(run), input).ok());
}

const Json& value_of(const kernel::Event& summary) { return *summary.payload.find("value"); }

// ---- the base harness ----

const char kBase[] = R"lua(
local h = harness.base {
  name = "job",
  on_initialize = function(h, ctx)
    print("init wake " .. ctx.wake .. " run " .. ctx.run_id .. " tenant " .. ctx.tenant ..
          " n " .. ctx.input.n)
  end,
  on_wake = function(h, ctx, r)
    print("wake " .. ctx.wake .. " first " .. tostring(r.first) .. " previous " ..
          tostring(r.previous and r.previous.wake) .. " " ..
          tostring(r.previous and r.previous.status))
  end,
  step = function(h, ctx)
    print("step " .. ctx.wake)
    ctx.run:now()
    if ctx.wake < ctx.input.n then return nil, true end
    return { wakes = ctx.wake }
  end,
  on_sleep = function(h, ctx, err) print("sleep " .. ctx.wake .. " " .. tostring(err)) end,
}
return h:entry()
)lua";

TEST_CASE("a base harness runs its hooks in order, one scope per wake, and its summaries",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("base.lua", lua(kBase));
  host::RunOutcome done = f.run(path, "run-base", Json::object({{"n", 3}}));
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"wakes":3})");
  CHECK(f.printed == std::vector<std::string>{
                         "init wake 1 run run-base tenant acme n 3",
                         "wake 1 first true previous nil nil", "step 1", "sleep 1 nil",
                         "wake 2 first false previous 1 continue", "step 2", "sleep 2 nil",
                         "wake 3 first false previous 2 continue", "step 3", "sleep 3 nil"});
  CHECK(harness_summaries(f, "run-base") ==
        std::vector<std::string>{
            "harness_initialized job/wake:1/summary:1", "harness_wake job/wake:1/summary:2",
            "harness_sleep job/wake:1/summary:3", "harness_wake job/wake:2/summary:1",
            "harness_sleep job/wake:2/summary:2", "harness_wake job/wake:3/summary:1",
            "harness_sleep job/wake:3/summary:2"});
  std::vector<std::string> statuses;
  for (const kernel::Event& e : summaries_of(f, "run-base", "harness_sleep"))
    statuses.push_back(str(value_of(e).find("status")));
  CHECK(statuses == std::vector<std::string>{"continue", "continue", "done"});
  CHECK(count_steps(f, "run-base", "time_read", "job/wake:2/now:1") == 1);

  // Executed again, the completed run replays every step: nothing is appended.
  const size_t events = f.events("run-base").size();
  host::RunOutcome again = f.run(path, "run-base", Json::object({{"n", 3}}));
  CHECK(text(again.output) == text(done.output));
  CHECK(f.events("run-base").size() == events);
}

TEST_CASE("between_wakes sleep: the run sleeps after a wake and the clock starts the next",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("sleepy.lua", lua(R"lua(
local h = harness.base {
  name = "nap", between_wakes = { sleep = 60 },
  step = function(h, ctx)
    if ctx.wake == 1 then return nil, true end
    return { wakes = ctx.wake }
  end,
}
return h:entry()
)lua"));
  host::RunOutcome sleeping = f.run(path, "run-nap");
  REQUIRE(sleeping.status == RunStatus::kSleeping);
  CHECK(count_steps(f, "run-nap", "sleep_started", "nap/sleep:1") == 1);
  CHECK(summaries_of(f, "run-nap", "harness_wake").size() == 1);
  f.clock_us += 30'000'000;
  f.host->tick(std::chrono::milliseconds(10));
  REQUIRE(f.host->outcome(kernel::RunId("run-nap"))->status == RunStatus::kSleeping);
  f.clock_us += 31'000'000;
  host::RunOutcome woke = f.drive("run-nap");
  INFO(text(woke.error));
  REQUIRE(woke.status == RunStatus::kCompleted);
  CHECK(text(woke.output) == R"({"wakes":2})");
  CHECK(summaries_of(f, "run-nap", "harness_wake").size() == 2);
}

TEST_CASE("between_wakes pause: one wake per resume, whose input reaches the next wake",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("paused.lua", lua(R"lua(
local h = harness.base {
  name = "steps", between_wakes = "pause",
  on_wake = function(h, ctx, r)
    if r.previous then print("wake " .. ctx.wake .. " after " .. r.previous.between .. " with " ..
                             tostring(r.previous.resumed_with)) end
  end,
  step = function(h, ctx)
    if ctx.wake < 3 then return nil, true end
    return { wakes = ctx.wake }
  end,
}
return h:entry()
)lua"));
  REQUIRE(f.run(path, "run-steps").status == RunStatus::kPaused);
  CHECK(summaries_of(f, "run-steps", "harness_wake").size() == 1);
  resume(f, "run-steps", Json("go-2"));
  REQUIRE(f.run(path, "run-steps").status == RunStatus::kPaused);
  CHECK(summaries_of(f, "run-steps", "harness_wake").size() == 2);
  // The third wake in another process: the first two replay.
  f.restart(stdlib_options());
  f.printed.clear();
  resume(f, "run-steps", Json("go-3"));
  host::RunOutcome done = f.run(path, "run-steps");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"wakes":3})");
  CHECK(f.printed ==
        std::vector<std::string>{"wake 2 after pause with go-2", "wake 3 after pause with go-3"});
  CHECK(summaries_of(f, "run-steps", "harness_wake").size() == 3);
  CHECK(count_steps(f, "run-steps", "run_paused", "steps/pause:") == 2);
}

TEST_CASE("on_sleep is told a wake's error, which then fails the run after harness_failed",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("boom.lua", lua(R"lua(
local h = harness.base {
  name = "boom",
  step = function(h, ctx)
    if ctx.wake == 2 then error("disk on fire") end
    return nil, true
  end,
  on_sleep = function(h, ctx, err) print("on_sleep " .. ctx.wake .. " " .. tostring(err)) end,
}
return h:entry()
)lua"));
  host::RunOutcome failed = f.run(path, "run-boom");
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK_THAT(str(failed.error.find("message")), Catch::Contains("disk on fire"));
  REQUIRE(f.printed.size() == 2);
  CHECK(f.printed[0] == "on_sleep 1 nil");
  CHECK_THAT(f.printed[1], Catch::StartsWith("on_sleep 2 ") && Catch::Contains("disk on fire"));
  CHECK(harness_summaries(f, "run-boom").back() == "harness_failed boom/wake:2/summary:3");
  const auto sleeps = summaries_of(f, "run-boom", "harness_sleep");
  REQUIRE(sleeps.size() == 2);
  CHECK(str(value_of(sleeps[1]).find("status")) == "failed");
  CHECK(str(value_of(sleeps[1]).find("error")->find("kind")) == "script_error");
  const auto failures = summaries_of(f, "run-boom", "harness_failed");
  REQUIRE(failures.size() == 1);
  CHECK_THAT(str(value_of(failures[0]).find("error")->find("message")),
             Catch::Contains("disk on fire"));
}

// A unit that plans, waits for a human, then goes on; PROMPT is what an edit changes.
const char kDrifting[] = R"lua(
local PROMPT = "plan a"
artana.model_port("m", function(req)
  print("port " .. req.prompt)
  return { output = { text = "ok" } }
end)
local h = harness.incremental {
  model = "m",
  define_tasks = function() return { { id = "a", description = "plan, wait, go on" } } end,
  work_on = function(h, unit, ctx)
    h:model(ctx, { prompt = PROMPT })
    ctx.run:pause("go on?")
    h:model(ctx, { prompt = "after" })
  end,
  on_sleep = function(h, ctx, err) print("on_sleep " .. tostring(err and err.kind)) end,
}
return h:entry()
)lua";

TEST_CASE("a halt in work_on passes through: no failed attempt, no harness_failed",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("drift.lua", lua(kDrifting));
  REQUIRE(f.run(path, "run-drift").status == RunStatus::kPaused);
  CHECK(f.printed == std::vector<std::string>{"port plan a"});

  // The code changes under the recorded model step: replay_drift, a halt.
  std::string edited = lua(kDrifting);
  edited.replace(edited.find("plan a"), 6, "plan b");
  f.script("drift.lua", edited);
  resume(f, "run-drift", Json("yes"));
  f.printed.clear();
  host::RunOutcome halted = f.run(path, "run-drift");
  REQUIRE(halted.status == RunStatus::kNeedsAttention);
  CHECK(str(halted.error.find("kind")) == "replay_drift");
  CHECK(f.printed == std::vector<std::string>{"on_sleep replay_drift"});
  CHECK(summaries_of(f, "run-drift", "harness_failed").empty());
  CHECK(summaries_of(f, "run-drift", "harness_sleep").empty());
  CHECK(progress_keys(f, "run-drift") == std::vector<std::string>{"task/a/in_progress/1"});
  CHECK(count_steps(f, "run-drift", "step_completed", "unit_outcome") == 0);

  // The code fixed, the same attempt goes on after its pause and the unit is done.
  f.script("drift.lua", lua(kDrifting));
  f.printed.clear();
  host::RunOutcome done = f.run(path, "run-drift");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(f.printed == std::vector<std::string>{"port after", "on_sleep nil"});
  CHECK(text(*done.output.find("units")) ==
        R"([{"attempts":0,"description":"plan, wait, go on","id":"a","state":"done"}])");
  CHECK(progress_keys(f, "run-drift") ==
        std::vector<std::string>{"task/a/in_progress/1", "task/a/done/1"});
}

// ---- constructors ----

TEST_CASE("harness constructors refuse unknown, mistyped and missing fields by name",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("refusals.lua", lua(R"lua(
local function fn() end
local check = { argv = { "true" } }
local cases = {
  function() return harness.base { step = fn, stepp = 1 } end,
  function() return harness.base { step = "go" } end,
  function() return harness.base { name = "job" } end,
  function() return harness.base "job" end,
  function() return harness.base { step = fn, name = "a/b" } end,
  function() return harness.base { step = fn, between_wakes = "later" } end,
  function() return harness.base { step = fn, between_wakes = { sleep = 0 } } end,
  function() return harness.base { step = fn, replay = "loose" } end,
  function() return harness.base { step = fn, model = 5 } end,
  function() return harness.base { step = fn, on_sleep = true } end,
  function() return harness.incremental { work_on = fn } end,
  function() return harness.incremental { define_tasks = fn } end,
  function() return harness.incremental { define_tasks = fn, work_on = fn, step = fn } end,
  function() return harness.incremental { define_tasks = fn, work_on = fn, max_attempts = 0 } end,
  function() return harness.incremental { define_tasks = fn, work_on = fn, max_attempts = 1.5 } end,
  function() return harness.test_driven { define_tasks = fn, work_on = fn } end,
  function() return harness.test_driven { define_tasks = fn, work_on = fn,
                                          check = { argv = {} } } end,
  function() return harness.test_driven { define_tasks = fn, work_on = fn,
                                          check = { argv = { "true" }, shell = true } } end,
  function() return harness.test_driven { define_tasks = fn, work_on = fn, check = check,
                                          adjudicate = "yes" } end,
  function() return harness.test_driven { define_tasks = fn, work_on = fn, check = check,
                                          adjudicate = true } end,
  function() return harness.supervisor { step = fn, define_tasks = fn } end,
  function() return harness.supervisor { name = "boss" } end,
}
return function(run)
  local out = {}
  for i, case in ipairs(cases) do
    local ok, err = pcall(case)
    out[i] = ok and "accepted" or (err.kind .. ": " .. err.message)
  end
  -- and what is right is accepted
  harness.test_driven { define_tasks = fn, work_on = fn, check = check, adjudicate = true,
                        verify_model = "judge", max_attempts = 1, between_wakes = "pause" }
  return out
end
)lua"));
  host::RunOutcome outcome = f.run(path, "run-refusals");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  const std::vector<std::string> expected = {
      "harness.base: unknown field 'stepp'",
      "harness.base: field 'step' must be a function",
      "harness.base: field 'step' is required",
      "harness.base expects a table",
      "harness.base: field 'name' must be a string of 1 to 100 bytes without '/'",
      "harness.base: field 'between_wakes' must be",
      "harness.base: field 'between_wakes' must be",
      "harness.base: field 'replay' must be",
      "harness.base: field 'model' must be a string",
      "harness.base: field 'on_sleep' must be a function",
      "harness.incremental: field 'define_tasks' is required",
      "harness.incremental: field 'work_on' is required",
      "harness.incremental: field 'step' must be left out",
      "harness.incremental: field 'max_attempts' must be an integer >= 1",
      "harness.incremental: field 'max_attempts' must be an integer >= 1",
      "harness.test_driven: field 'check' is required",
      "harness.test_driven: field 'check' must be {argv = a non-empty list of strings",
      "harness.test_driven: field 'check' must be",
      "harness.test_driven: field 'adjudicate' must be a boolean",
      "harness.test_driven: adjudicate = true needs verify_model (or model)",
      "harness.supervisor: unknown field 'define_tasks'",
      "harness.supervisor: field 'step' is required",
  };
  const Json::Array& got = outcome.output.as_array();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("case " << i + 1);
    CHECK_THAT(got[i].as_string(),
               Catch::StartsWith("invalid_argument: ") && Catch::Contains(expected[i]));
  }
  CHECK_THAT(got[17].as_string(), Catch::Contains("unknown field 'shell'"));
}

// ---- the incremental harness ----

const char kInvalidTasks[] = R"lua(
local lists = {
  empty = {},
  not_a_list = "build",
  keyed = { build = { id = "build", description = "x" } },
  no_id = { { description = "x" } },
  empty_id = { { id = "", description = "x" } },
  number_id = { { id = 7, description = "x" } },
  duplicate = { { id = "a", description = "x" }, { id = "a", description = "y" } },
  no_description = { { id = "a" } },
  empty_description = { { id = "a", description = "" } },
  own_state = { { id = "a", description = "x", state = "done" } },
}
local h = harness.incremental {
  define_tasks = function(h, ctx) return lists[ctx.input.case] end,
  work_on = function() print("work_on called") end,
}
return h:entry()
)lua";

TEST_CASE("define_tasks with no units, a bad or duplicate id, or no description is task_invalid",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("tasks.lua", lua(kInvalidTasks));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", "non-empty list"},
      {"not_a_list", "non-empty list"},
      {"keyed", "non-empty list"},
      {"no_id", "unit #1 needs an id"},
      {"empty_id", "unit #1 needs an id"},
      {"number_id", "unit #1 needs an id"},
      {"duplicate", "unit id 'a' is used twice"},
      {"no_description", "unit 'a' has no description"},
      {"empty_description", "unit 'a' has no description"},
      {"own_state", "state and attempts are the harness's"},
  };
  for (const auto& [name, message] : cases) {
    INFO(name);
    const std::string run = "run-tasks-" + name;
    host::RunOutcome failed = f.run(path, run, Json::object({{"case", name}}));
    REQUIRE(failed.status == RunStatus::kFailed);
    CHECK(str(failed.error.find("kind")) == "task_invalid");
    CHECK_THAT(str(failed.error.find("message")), Catch::Contains(message));
    CHECK(f.count(run, "step_completed") == 0);  // nothing recorded for define_tasks
    const auto failures = summaries_of(f, run, "harness_failed");
    REQUIRE(failures.size() == 1);
    CHECK(str(value_of(failures[0]).find("error")->find("kind")) == "task_invalid");
  }
  CHECK(count_printed(f, "work_on called") == 0);
}

const char kThreeUnits[] = R"lua(
local h = harness.incremental {
  name = "rel",
  define_tasks = function()
    return { { id = "a", description = "first" }, { id = "b", description = "second" },
             { id = "c", description = "third", extra = { path = "c.txt" } } }
  end,
  on_wake = function(h, ctx, r)
    print("wake " .. ctx.wake .. " pending " .. r.counts.pending .. " done " .. r.counts.done ..
          " previous " .. tostring(r.previous and r.previous.unit) .. " " ..
          tostring(r.previous and r.previous.unit_state))
  end,
  work_on = function(h, unit, ctx)
    print("work " .. unit.id .. " " .. unit.state .. " wake " .. ctx.wake ..
          (unit.extra and (" " .. unit.extra.path) or ""))
  end,
}
return h:entry()
)lua";

TEST_CASE("an incremental harness works on one unit per wake, in order, and reports progress",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("three.lua", lua(kThreeUnits));
  host::RunOutcome done = f.run(path, "run-three");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"done":3,"failed":0,"units":[)"
                             R"({"attempts":0,"description":"first","id":"a","state":"done"},)"
                             R"({"attempts":0,"description":"second","id":"b","state":"done"},)"
                             R"({"attempts":0,"description":"third","id":"c","state":"done"}]})");
  CHECK(f.printed == std::vector<std::string>{
                         "wake 1 pending 3 done 0 previous nil nil", "work a in_progress wake 1",
                         "wake 2 pending 2 done 1 previous a done", "work b in_progress wake 2",
                         "wake 3 pending 1 done 2 previous b done",
                         "work c in_progress wake 3 c.txt"});
  CHECK(progress_keys(f, "run-three") ==
        std::vector<std::string>{"task/a/in_progress/1", "task/a/done/1", "task/b/in_progress/1",
                                 "task/b/done/1", "task/c/in_progress/1", "task/c/done/1"});
  // Each transition is recorded in the wake that made it, with the counts after it.
  const auto progress = summaries_of(f, "run-three", "task_progress");
  CHECK_THAT(str(progress[3].payload.find("step_key")), Catch::StartsWith("rel/wake:2/"));
  CHECK(text(value_of(progress[3])) ==
        R"({"attempt":1,"counts":{"done":2,"failed":0,"in_progress":0,"pending":1},)"
        R"("from":"in_progress","to":"done","unit":"b"})");
  // The full list: at init (and every 100th transition), not in each transition.
  const auto init = summaries_of(f, "run-three", "harness_initialized");
  REQUIRE(init.size() == 1);
  CHECK(value_of(init[0]).find("units")->size() == 3);
  for (const kernel::Event& e : progress) CHECK(value_of(e).find("units") == nullptr);
  // Each wake sets the artifact progress.
  std::vector<std::string> artifacts;
  for (const kernel::Event& e : summaries_of(f, "run-three", "artifact::progress"))
    artifacts.push_back(text(value_of(e)));
  CHECK(
      artifacts ==
      std::vector<std::string>{
          R"({"counts":{"done":1,"failed":0,"in_progress":0,"pending":2},"current":"a","wake":1})",
          R"({"counts":{"done":2,"failed":0,"in_progress":0,"pending":1},"current":"b","wake":2})",
          R"({"counts":{"done":3,"failed":0,"in_progress":0,"pending":0},"current":"c","wake":3})"});
  // The wake that settles the last unit ends the run: no wake with nothing to do.
  CHECK(summaries_of(f, "run-three", "harness_wake").size() == 3);
}

TEST_CASE("a unit whose work_on raises is retried until max_attempts, then failed",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("retry.lua", lua(R"lua(
local h = harness.incremental {
  max_attempts = 2,
  define_tasks = function()
    return { { id = "bad", description = "always breaks" },
             { id = "flaky", description = "breaks once" },
             { id = "good", description = "works" } }
  end,
  work_on = function(h, unit, ctx)
    print("work " .. unit.id .. " attempts " .. unit.attempts)
    if unit.id == "bad" then error("bad is broken") end
    if unit.id == "flaky" and unit.attempts == 0 then
      artana.fail("invalid_argument", "flaky broke")
    end
  end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-retry");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("done")->as_integer() == 2);
  CHECK(done.output.find("failed")->as_integer() == 1);
  CHECK(text(*done.output.find("units")) ==
        R"([{"attempts":2,"description":"always breaks","id":"bad","state":"failed"},)"
        R"({"attempts":1,"description":"breaks once","id":"flaky","state":"done"},)"
        R"({"attempts":0,"description":"works","id":"good","state":"done"}])");
  CHECK(f.printed == std::vector<std::string>{"work bad attempts 0", "work bad attempts 1",
                                              "work flaky attempts 0", "work flaky attempts 1",
                                              "work good attempts 0"});
  CHECK(progress_keys(f, "run-retry") ==
        std::vector<std::string>{"task/bad/in_progress/1", "task/bad/pending/1",
                                 "task/bad/in_progress/2", "task/bad/failed/2",
                                 "task/flaky/in_progress/1", "task/flaky/pending/1",
                                 "task/flaky/in_progress/2", "task/flaky/done/2",
                                 "task/good/in_progress/1", "task/good/done/1"});
  const auto progress = summaries_of(f, "run-retry", "task_progress");
  const Json& failed = value_of(progress[3]);
  CHECK(str(failed.find("from")) == "in_progress");
  CHECK(str(failed.find("error")->find("kind")) == "script_error");
  CHECK_THAT(str(failed.find("error")->find("message")), Catch::Contains("bad is broken"));
  CHECK(text(*failed.find("counts")) == R"({"done":0,"failed":1,"in_progress":0,"pending":2})");
  CHECK(str(value_of(progress[5]).find("error")->find("kind")) == "invalid_argument");
  // What each work_on did is recorded before the harness acts on it.
  CHECK(count_steps(f, "run-retry", "step_completed", "/unit_outcome") == 5);
}

TEST_CASE("every 100th transition carries the full unit list", "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("many.lua", lua(R"lua(
local h = harness.incremental {
  define_tasks = function()
    local units = {}
    for i = 1, 60 do units[i] = { id = "u" .. i, description = "unit " .. i } end
    return units
  end,
  work_on = function() end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-many");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("done")->as_integer() == 60);
  const auto progress = summaries_of(f, "run-many", "task_progress");
  REQUIRE(progress.size() == 120);
  for (size_t i = 0; i < progress.size(); ++i) {
    INFO("transition " << i + 1);
    const Json* units = value_of(progress[i]).find("units");
    CHECK((units != nullptr) == (i + 1 == 100));
  }
  const Json& units = *value_of(progress[99]).find("units");
  REQUIRE(units.size() == 60);
  CHECK(str(units.as_array()[49].find("state")) == "done");
  CHECK(str(units.as_array()[50].find("state")) == "pending");
}

const char kRules[] = R"lua(
local h = harness.incremental {
  define_tasks = function()
    return { { id = "a", description = "first" }, { id = "b", description = "second" } }
  end,
  work_on = function() end,
  on_sleep = function(h, ctx, err)
    -- A hook moving a unit itself breaks the harness's rules.
    if ctx.input.contrive == "two_done" then h.units[2].state = "done" end
    if ctx.input.contrive == "in_progress" then h.units[2].state = "in_progress" end
    if ctx.input.contrive == "attempts" then h.units[2].attempts = 5 end
  end,
}
return h:entry()
)lua";

TEST_CASE("two units done in one wake, or one in progress at sleep, is harness_state",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("rules.lua", lua(kRules));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"two_done", "units 'a', 'b' all reached done in wake 1: one unit per wake"},
      {"in_progress", "unit 'b' is still in_progress at the end of wake 1"},
      {"attempts", "unit 'b' was changed outside the harness"},
  };
  for (const auto& [contrive, message] : cases) {
    INFO(contrive);
    const std::string run = "run-rules-" + contrive;
    host::RunOutcome failed = f.run(path, run, Json::object({{"contrive", contrive}}));
    REQUIRE(failed.status == RunStatus::kFailed);
    CHECK(str(failed.error.find("kind")) == "harness_state");
    CHECK_THAT(str(failed.error.find("message")), Catch::Contains(message));
    const auto sleeps = summaries_of(f, run, "harness_sleep");
    REQUIRE(sleeps.size() == 1);
    CHECK(str(value_of(sleeps[0]).find("status")) == "failed");
    REQUIRE(summaries_of(f, run, "harness_failed").size() == 1);
  }
}

// A release whose second unit waits for a human in the middle of its work_on: the run
// pauses there, and a new process goes on from that step.
const char kRelease[] = R"lua(
artana.tool { name = "ship", description = "ships a stage", args = { stage = "string" },
              side_effect = true,
              fn = function(args, ctx)
                print("DEPLOYED " .. args.stage .. " " .. ctx.idempotency_key)
                return { shipped = args.stage }
              end }
artana.model_port("planner", function(req)
  print("port " .. req.prompt)
  return { output = { text = "plan for " .. req.prompt } }
end)
local h = harness.incremental {
  name = "release", model = "planner",
  define_tasks = function()
    print("define_tasks")
    return { { id = "build", description = "build it" },
             { id = "deploy", description = "ship it" } }
  end,
  work_on = function(h, unit, ctx)
    h:model(ctx, { prompt = unit.id })
    if unit.id == "deploy" then ctx.run:pause("deploy now?") end
    ctx.run:tool("ship", { stage = unit.id })
  end,
}
return h:entry()
)lua";

TEST_CASE("a re-execution never redoes a done unit and goes on at work_on's first new step",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("release.lua", lua(kRelease));
  REQUIRE(f.run(path, "run-release").status == RunStatus::kPaused);
  CHECK(count_printed(f, "DEPLOYED build ") == 1);
  CHECK(count_printed(f, "port deploy") == 1);
  CHECK(count_printed(f, "DEPLOYED deploy ") == 0);

  f.restart(stdlib_options());  // another process: everything re-executes from the top
  f.printed.clear();
  resume(f, "run-release", Json("yes"));
  host::RunOutcome done = f.run(path, "run-release");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("done")->as_integer() == 2);
  // Only the tool after the pause ran: no define_tasks, no port call, no second build.
  CHECK(f.printed.size() == 1);
  CHECK(count_printed(f, "DEPLOYED deploy ") == 1);
  CHECK(f.count("run-release", "tool_completed") == 2);
  CHECK(f.count("run-release", "model_completed") == 2);
  CHECK(progress_keys(f, "run-release") ==
        std::vector<std::string>{"task/build/in_progress/1", "task/build/done/1",
                                 "task/deploy/in_progress/1", "task/deploy/done/1"});

  // Once more, completed: all of it replays.
  f.restart(stdlib_options());
  f.printed.clear();
  const size_t events = f.events("run-release").size();
  REQUIRE(f.run(path, "run-release").status == RunStatus::kCompleted);
  CHECK(f.printed.empty());
  CHECK(f.events("run-release").size() == events);
}

TEST_CASE("a hot reload whose define_tasks gives other units keeps the recorded units",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string v1 = R"lua(
local h = harness.incremental {
  between_wakes = "pause",
  define_tasks = function()
    print("define_tasks v1")
    return { { id = "a", description = "first" }, { id = "b", description = "second" } }
  end,
  work_on = function(h, unit) print("v1 works on " .. unit.id) end,
}
return h:entry()
)lua";
  const std::string path = f.script("reload.lua", lua(v1));
  REQUIRE(f.run(path, "run-reload").status == RunStatus::kPaused);
  CHECK(f.printed == std::vector<std::string>{"define_tasks v1", "v1 works on a"});

  f.script("reload.lua", lua(R"lua(
local h = harness.incremental {
  between_wakes = "pause",
  define_tasks = function()
    print("define_tasks v2")
    return { { id = "x", description = "other" }, { id = "y", description = "others" },
             { id = "z", description = "more" } }
  end,
  work_on = function(h, unit) print("v2 works on " .. unit.id) end,
}
return h:entry()
)lua"));
  f.printed.clear();
  resume(f, "run-reload", Json());
  host::RunOutcome done = f.run(path, "run-reload");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  // The new code runs (wake 1 re-executes, its steps replay) on the units recorded.
  CHECK(f.printed == std::vector<std::string>{"v2 works on a", "v2 works on b"});
  CHECK(text(*done.output.find("units")) ==
        R"([{"attempts":0,"description":"first","id":"a","state":"done"},)"
        R"({"attempts":0,"description":"second","id":"b","state":"done"}])");
}

// ---- the test-driven harness ----

struct Workspace {
  TempDir dir;
  Workspace() {
    // The project's test: answer.txt must hold "fixed" (or, for `judged`, say what it holds).
    std::ofstream(dir / "check.sh") << "grep -qx fixed answer.txt && echo passed && exit 0\n"
                                       "echo \"answer.txt holds $(cat answer.txt)\"; exit 1\n";
    std::ofstream(dir / "judged.sh") << "cat answer.txt\n";
  }
  host::HostOptions options() const {
    host::HostOptions o = stdlib_options();
    o.workspace = dir.str();
    return o;
  }
  std::string answer() const {
    std::ifstream in(dir / "answer.txt");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
};

host::RunOptions exec_caps() {
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.tenant.capabilities = {"exec:run", "workspace:write"};
  return options;
}

TEST_CASE("a test-driven unit fails its check, is tried again, and is done when it passes",
          "[stdlib][harness]") {
  Workspace ws;
  HostFixture f(ws.options());
  const std::string path = f.script("tdd.lua", lua(R"lua(
local h = harness.test_driven {
  check = { argv = { "sh", "check.sh" } },
  define_tasks = function() return { { id = "answer", description = "answer.txt says fixed" } } end,
  work_on = function(h, unit, ctx)
    ctx.run:write_file("answer.txt", unit.attempts == 0 and "wrong\n" or "fixed\n")
    local verdict = h:verify_and_commit(ctx, unit.id)
    print("verified " .. tostring(verdict.passed) .. " " .. verdict.exit_code .. " " .. unit.state)
  end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-tdd", Json::object(), exec_caps());
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(*done.output.find("units")) ==
        R"([{"attempts":1,"description":"answer.txt says fixed","id":"answer","state":"done"}])");
  CHECK(f.printed == std::vector<std::string>{"verified false 1 pending", "verified true 0 done"});
  CHECK(ws.answer() == "fixed\n");
  std::vector<std::string> verifications;
  for (const kernel::Event& e : summaries_of(f, "run-tdd", "verification"))
    verifications.push_back(text(value_of(e)));
  CHECK(verifications ==
        std::vector<std::string>{R"({"attempt":1,"exit_code":1,"passed":false,"unit":"answer"})",
                                 R"({"attempt":2,"exit_code":0,"passed":true,"unit":"answer"})"});
  CHECK(progress_keys(f, "run-tdd") ==
        std::vector<std::string>{"task/answer/in_progress/1", "task/answer/pending/1",
                                 "task/answer/in_progress/2", "task/answer/done/2"});
  CHECK(count_steps(f, "run-tdd", "tool_completed", "/exec:") == 2);
}

TEST_CASE("a test-driven work_on that skips verify_and_commit leaves its unit pending",
          "[stdlib][harness]") {
  Workspace ws;
  HostFixture f(ws.options());
  const std::string path = f.script("skip.lua", lua(R"lua(
local h = harness.test_driven {
  max_attempts = 2,
  check = { argv = { "sh", "check.sh" } },
  define_tasks = function() return { { id = "answer", description = "answer.txt says fixed" } } end,
  work_on = function(h, unit, ctx)
    ctx.run:write_file("answer.txt", "fixed\n")
    unit.state = "done"  -- not how a unit gets done
  end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-skip", Json::object(), exec_caps());
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(*done.output.find("units")) ==
        R"([{"attempts":2,"description":"answer.txt says fixed","id":"answer","state":"failed"}])");
  CHECK(done.output.find("done")->as_integer() == 0);
  CHECK(progress_keys(f, "run-skip") ==
        std::vector<std::string>{"task/answer/in_progress/1", "task/answer/pending/1",
                                 "task/answer/in_progress/2", "task/answer/failed/2"});
  const auto progress = summaries_of(f, "run-skip", "task_progress");
  CHECK(str(value_of(progress[1]).find("error")->find("kind")) == "not_verified");
  CHECK(count_steps(f, "run-skip", "tool_requested", "/exec:") == 0);
  CHECK(summaries_of(f, "run-skip", "verification").empty());
}

TEST_CASE("with adjudicate the verify model must agree with a passing check", "[stdlib][harness]") {
  Workspace ws;
  HostFixture f(ws.options());
  const std::string path = f.script("judged.lua", lua(R"lua(
artana.model_port("judge", function(req)
  local good = req.prompt:find("\nstdout:\ngood\n", 1, true) ~= nil
  print("judge " .. tostring(good))
  return { output = { passed = good, reasoning = good and "looks good" or "meh is not an answer" } }
end)
local h = harness.test_driven {
  verify_model = "judge", adjudicate = true,
  check = { argv = { "sh", "judged.sh" } },
  define_tasks = function() return { { id = "answer", description = "a good answer" } } end,
  work_on = function(h, unit, ctx)
    ctx.run:write_file("answer.txt", unit.attempts == 0 and "meh\n" or "good\n")
    h:verify_and_commit(ctx, unit.id)
  end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-judged", Json::object(), exec_caps());
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("done")->as_integer() == 1);
  CHECK(f.printed == std::vector<std::string>{"judge false", "judge true"});
  std::vector<std::string> verifications;
  for (const kernel::Event& e : summaries_of(f, "run-judged", "verification"))
    verifications.push_back(text(value_of(e)));
  CHECK(verifications ==
        std::vector<std::string>{R"({"attempt":1,"exit_code":0,"passed":false,)"
                                 R"("reasoning":"meh is not an answer","unit":"answer"})",
                                 R"({"attempt":2,"exit_code":0,"passed":true,)"
                                 R"("reasoning":"looks good","unit":"answer"})"});
  CHECK(count_steps(f, "run-judged", "model_completed", "/model:") == 2);
}

TEST_CASE("verify_and_commit of a unit not in progress is harness_state, not a failed attempt",
          "[stdlib][harness]") {
  Workspace ws;
  HostFixture f(ws.options());
  const std::string path = f.script("other.lua", lua(R"lua(
local h = harness.test_driven {
  check = { argv = { "sh", "check.sh" } },
  define_tasks = function()
    return { { id = "a", description = "first" }, { id = "b", description = "second" } }
  end,
  work_on = function(h, unit, ctx) h:verify_and_commit(ctx, "b") end,
}
return h:entry()
)lua"));
  host::RunOutcome failed = f.run(path, "run-other", Json::object(), exec_caps());
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(str(failed.error.find("kind")) == "harness_state");
  CHECK_THAT(str(failed.error.find("message")), Catch::Contains("the unit is pending"));
  CHECK(progress_keys(f, "run-other") == std::vector<std::string>{"task/a/in_progress/1"});
  CHECK(f.count("run-other", "tool_requested") == 0);
  CHECK(summaries_of(f, "run-other", "harness_failed").size() == 1);
}

// ---- models, artifacts and the supervisor's arguments ----

TEST_CASE("h:model, h:draft and h:verify use the harness's model names, artifacts its run",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("models.lua", lua(R"lua(
for _, name in ipairs({ "main", "drafter", "other" }) do
  artana.model_port(name, function(req)
    return { output = { text = req.model .. ":" .. req.prompt } }
  end)
end
local h = harness.base {
  name = "m", model = "main", draft_model = "drafter",
  step = function(h, ctx)
    local out = {
      h:model(ctx, { prompt = "a" }).output.text,
      h:draft(ctx.run, { prompt = "b" }).output.text,
      h:verify(ctx, { prompt = "c" }).output.text,
      h:model(ctx, { model = "other", prompt = "d" }).output.text,
    }
    h:set_artifact("notes", { n = 1 })
    out[5] = h:get_artifact("notes").n
    local ok, err = pcall(h.model, h, ctx, "not a table")
    out[6] = err.kind
    ok, err = pcall(h.model, h, "not a ctx", { prompt = "x" })
    out[7] = err.kind
    return out
  end,
}
local bare = harness.base { step = function() end }
return function(run, input)
  local ok, err = pcall(h.set_artifact, h, "notes", 1)
  local before = err.kind
  local out = h:run(run, input)
  ok, err = pcall(bare.model, bare, run, { prompt = "x" })
  out[8] = err.kind
  out[9] = before
  return out
end
)lua"));
  host::RunOutcome done = f.run(path, "run-models");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) ==
        R"(["main:a","drafter:b","main:c","other:d",1,"invalid_argument","invalid_argument",)"
        R"("invalid_argument","harness_state"])");
  CHECK(count_steps(f, "run-models", "run_summary", "m/wake:1/artifact:") == 1);
}

TEST_CASE("a supervisor refuses a malformed list of children before starting any",
          "[stdlib][harness]") {
  // run:child itself is not in this host yet: only what is checked before it is called.
  HostFixture f(stdlib_options());
  const std::string path = f.script("boss.lua", lua(R"lua(
local h = harness.supervisor {
  name = "boss",
  step = function(h, ctx)
    local out = {}
    for i, list in ipairs({ { "a.lua", 5 }, { { script = "a.lua", input = {} } }, "a.lua" }) do
      local ok, err = pcall(h.children, h, ctx, list)
      out[i] = err.kind .. ": " .. err.message
    end
    local ok, err = pcall(h.child, h, ctx, "", {})
    out[4] = err.kind .. ": " .. err.message
    return out
  end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-boss");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  const Json::Array& out = done.output.as_array();
  REQUIRE(out.size() == 4);
  CHECK_THAT(out[0].as_string(), Catch::Contains("item #2 is a script or {script, opts}"));
  CHECK_THAT(out[1].as_string(), Catch::Contains("item #1 has an unknown field 'input'"));
  CHECK_THAT(out[2].as_string(), Catch::Contains("list must be a table"));
  CHECK_THAT(out[3].as_string(), Catch::Contains("script must be a non-empty string"));
  CHECK(summaries_of(f, "run-boss", "supervisor_child").empty());
}

// ---- the samples, through the CLI ----

namespace samples {

using namespace sample_cli;

const char kDeploy[] =
    "deploy_harness/deploy_harness.lua --run-id rel-1 "
    "--input '{\"service\": \"billing\", \"version\": \"2.4.0\"}'";

const char kDeployed[] =
    R"({"done":2,"failed":0,"units":[)"
    R"({"attempts":0,"description":"build and push the service's image","id":"build",)"
    R"("state":"done"},{"attempts":0,"description":"roll the new image out to production",)"
    R"("id":"deploy","state":"done"}]})";

}  // namespace samples

TEST_CASE("deploy_harness: a wake per resume, each stage deployed once", "[stdlib][harness]") {
  using namespace samples;
  Cli cli;
  CliRun built = cli("--json run " + sample(kDeploy));
  REQUIRE(built.exit_code == 3);
  CHECK(str(result_of(built).find("status")) == "paused");
  CHECK(occurrences(cli.printed(), "DEPLOYED build ") == 1);
  CHECK(occurrences(cli.printed(), "DEPLOYED deploy ") == 0);
  CliRun deployed = cli("--json resume rel-1");
  REQUIRE(deployed.exit_code == 0);
  CHECK(text(*result_of(deployed).find("output")) == kDeployed);
  CHECK(occurrences(cli.printed(), "DEPLOYED build ") == 1);
  CHECK(occurrences(cli.printed(), "DEPLOYED deploy ") == 1);
  CHECK(occurrences(cli.printed(), "planner called for ") == 2);
  const std::vector<Json> events = exported(cli, "rel-1");
  size_t tools = 0;
  for (const Json& e : events) tools += str(e.find("type")) == "tool_completed";
  CHECK(tools == 2);
  CHECK(summary_values(events, "artifact::stage/deploy") ==
        std::vector<std::string>{R"({"ok":true,"plan":"roll billing 2.4.0 out to production"})"});
  CHECK(cli("ledger verify rel-1").exit_code == 0);
}

// Each process of a release killed at each syscall it crosses in turn (the first process,
// then the one that resumes it): run to its end, the release deploys each stage once.
TEST_CASE("deploy_harness: killed at any syscall, the release still deploys each stage once",
          "[stdlib][harness]") {
  using namespace samples;
  const std::string run = "--json run " + sample(kDeploy);
  const std::map<std::string, std::string> none;
  for (const bool kill_resume : {false, true}) {
    for (int k = 1;; ++k) {
      INFO((kill_resume ? "resume" : "run") << " killed at syscall " << k);
      REQUIRE(k < 500);
      const std::map<std::string, std::string> crash = {
          {"ARTANA_CRASH_AT", "syscall:" + std::to_string(k)}};
      Cli cli;
      CliRun first = cli(run, kill_resume ? none : crash);
      const bool first_killed = first.exit_code == 137;
      if (first_killed) first = cli(run);
      REQUIRE(first.exit_code == 3);
      CliRun second = cli("--json resume rel-1", kill_resume ? crash : none);
      const bool second_killed = second.exit_code == 137;
      if (second_killed) second = cli(run);
      REQUIRE(second.exit_code == 0);
      CHECK(text(*result_of(second).find("output")) == samples::kDeployed);
      CHECK(occurrences(cli.printed(), "DEPLOYED build ") == 1);
      CHECK(occurrences(cli.printed(), "DEPLOYED deploy ") == 1);
      // A process that crossed fewer than k syscalls was not killed: every point was tried.
      if (!(kill_resume ? second_killed : first_killed)) {
        CHECK(k > 10);  // each process crosses more syscalls than that: kills did happen
        break;
      }
    }
  }
}

TEST_CASE("tdd_fix: the first fix fails the check, the second passes and is done",
          "[stdlib][harness]") {
  using namespace samples;
  Cli cli;
  const std::filesystem::path workspace = cli.dir() / "workspace";
  std::filesystem::copy(sample("tdd_fix/workspace"), workspace,
                        std::filesystem::copy_options::recursive);
  const std::string run = "--json run " + sample("tdd_fix/tdd_fix.lua") +
                          " --run-id fix-1 --workspace " + workspace.string() +
                          " --caps exec:run,workspace:read,workspace:write";
  CliRun fixed = cli(run);
  REQUIRE(fixed.exit_code == 0);
  CHECK(text(*result_of(fixed).find("output")) ==
        R"({"done":1,"failed":0,"units":[{"attempts":1,"description":)"
        R"("src/add.sh must print the sum of its two arguments","id":"fix_add","state":"done"}]})");
  CHECK(occurrences(cli.printed(), "fixer proposes: $1 * $2") == 1);
  CHECK(occurrences(cli.printed(), "fixer proposes: $1 + $2") == 1);
  std::ifstream in(workspace / "src/add.sh");
  const std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(source, Catch::Contains("echo $(( $1 + $2 ))"));
  const std::vector<Json> events = exported(cli, "fix-1");
  CHECK(summary_values(events, "verification") ==
        std::vector<std::string>{R"({"attempt":1,"exit_code":1,"passed":false,"unit":"fix_add"})",
                                 R"({"attempt":2,"exit_code":0,"passed":true,"unit":"fix_add"})"});
  CHECK(summary_values(events, "artifact::last_failure/fix_add") ==
        std::vector<std::string>{R"("FAIL: add 2 3: expected 5, got 6\n")"});

  // Run again: everything replays, nothing is asked or written again.
  std::filesystem::remove(workspace / "src/add.sh");
  CliRun again = cli(run);
  REQUIRE(again.exit_code == 0);
  CHECK(occurrences(again.err, "fixer proposes") == 0);
  CHECK_FALSE(std::filesystem::exists(workspace / "src/add.sh"));
  CHECK(exported(cli, "fix-1").size() == events.size());
}

}  // namespace
}  // namespace artana::testing
