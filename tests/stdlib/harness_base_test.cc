// artana.harness's base harness (stdlib/harness/base.lua): hooks and summaries per wake,
// what happens between wakes (continue, sleep, pause), errors and halts, the constructors'
// refusals (stdlib/harness/fields.lua), and the model and artifact helpers.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "stdlib/harness_helpers.h"

namespace artana::testing {
namespace {

using namespace harness_testing;

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

// ---- models and artifacts ----

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

}  // namespace
}  // namespace artana::testing
