// artana.harness's incremental harness (stdlib/harness/incremental.lua): define_tasks'
// refusals, one unit per wake in order with its progress, retries up to max_attempts, the
// full list every 100th transition, the harness's rules, and re-execution and hot reload
// keeping what was recorded.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "stdlib/harness_helpers.h"

namespace artana::testing {
namespace {

using namespace harness_testing;

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
  // Recorded without Lua's "retry.lua:12: ": code that only moves is not drift.
  CHECK(str(failed.find("error")->find("message")) == "bad is broken");
  CHECK(text(*failed.find("counts")) == R"({"done":0,"failed":1,"in_progress":0,"pending":2})");
  CHECK(str(value_of(progress[5]).find("error")->find("kind")) == "invalid_argument");
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

TEST_CASE("past 1 000 units the full list comes ten times in a run: O(1) per step",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("more.lua", lua(R"lua(
local h = harness.incremental {
  define_tasks = function()
    local units = {}
    for i = 1, 1200 do units[i] = { id = "u" .. i, description = "unit " .. i } end
    return units
  end,
  work_on = function() end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-more");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  const auto progress = summaries_of(f, "run-more", "task_progress");
  REQUIRE(progress.size() == 2400);
  size_t lists = 0;
  for (size_t i = 0; i < progress.size(); ++i) {
    const Json* units = value_of(progress[i]).find("units");
    if (units == nullptr) continue;
    ++lists;
    INFO("transition " << i + 1);
    CHECK((i + 1) % 240 == 0);  // every 2400/10th transition, not every 100th
    CHECK(units->size() == 1200);
  }
  CHECK(lists == 10);
}

const char kRules[] = R"lua(
local h = harness.incremental {
  define_tasks = function()
    return { { id = "a", description = "first" }, { id = "b", description = "second" } }
  end,
  work_on = function() end,
  on_sleep = function(h, ctx, err)
    -- A hook moving a unit itself breaks the harness's rules, at the write.
    if ctx.input.contrive == "two_done" then h.units[2].state = "done" end
    if ctx.input.contrive == "in_progress" then h.units[2].state = "in_progress" end
    if ctx.input.contrive == "attempts" then h.units[2].attempts = 5 end
    if ctx.input.contrive == "replaced" then
      h.units[2] = { id = "c", description = "second", state = "pending", attempts = 0 }
    end
    -- The unit this wake settled, and one an earlier wake did.
    if ctx.input.contrive == "undone" then h.units[1].state = "pending" end
    if ctx.input.contrive == "undone_later" and ctx.wake == 2 then h.units[1].state = "pending" end
  end,
}
return h:entry()
)lua";

TEST_CASE("a hook writing a unit's state or attempts, or replacing one, is harness_state",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("rules.lua", lua(kRules));
  struct Case {
    std::string contrive, message;
    size_t wake = 1;  // the wake that fails
  };
  const std::string owned = " is the harness's to set (a unit moves by its transitions";
  const std::vector<Case> cases = {
      {"two_done", "unit 'b': state" + owned},
      {"in_progress", "unit 'b': state" + owned},
      {"attempts", "unit 'b': attempts" + owned},
      {"replaced", "h.units[2]: the units are the harness's"},
      {"undone", "unit 'a': state" + owned},
      {"undone_later", "unit 'a': state" + owned, 2},
  };
  for (const auto& [contrive, message, wake] : cases) {
    INFO(contrive);
    const std::string run = "run-rules-" + contrive;
    host::RunOutcome failed = f.run(path, run, Json::object({{"contrive", contrive}}));
    REQUIRE(failed.status == RunStatus::kFailed);
    CHECK(str(failed.error.find("kind")) == "harness_state");
    CHECK_THAT(str(failed.error.find("message")), Catch::Contains(message));
    const auto sleeps = summaries_of(f, run, "harness_sleep");
    REQUIRE(sleeps.size() == wake);
    CHECK(str(value_of(sleeps.back()).find("status")) == "failed");
    REQUIRE(summaries_of(f, run, "harness_failed").size() == 1);
  }
}

// h.units reads as the units do (ipairs, pairs, #, fields) and crosses as JSON as them; a
// unit's own fields (not id, description, state, attempts) are the script's to write.
TEST_CASE("h.units is a view of the units: it reads and crosses as JSON like them",
          "[stdlib][harness]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("view.lua", lua(R"lua(
local h = harness.incremental {
  define_tasks = function()
    return { { id = "a", description = "first", path = "a.txt" },
             { id = "b", description = "second" } }
  end,
  work_on = function(h, unit, ctx)
    unit.note = "worked on " .. (unit.path or "it")
    local seen = {}
    for i, u in ipairs(h.units) do seen[#seen + 1] = i .. ":" .. u.id .. ":" .. u.state end
    local fields = {}
    for field in pairs(unit) do fields[#fields + 1] = field end
    table.sort(fields)
    ctx.run:summary("seen", { n = #h.units, units = table.concat(seen, " "),
                              fields = table.concat(fields, ","), all = h.units, one = unit })
  end,
}
return h:entry()
)lua"));
  host::RunOutcome done = f.run(path, "run-view");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  const auto seen = summaries_of(f, "run-view", "seen");
  REQUIRE(seen.size() == 2);
  const Json& first = value_of(seen[0]);
  CHECK(first.find("n")->as_integer() == 2);
  CHECK(str(first.find("units")) == "1:a:in_progress 2:b:pending");
  CHECK(str(first.find("fields")) == "attempts,description,id,note,path,state");
  CHECK(text(*first.find("one")) ==
        R"({"attempts":0,"description":"first","id":"a","note":"worked on a.txt",)"
        R"("path":"a.txt","state":"in_progress"})");
  CHECK(text(*first.find("all")) ==
        R"([{"attempts":0,"description":"first","id":"a","note":"worked on a.txt",)"
        R"("path":"a.txt","state":"in_progress"},)"
        R"({"attempts":0,"description":"second","id":"b","state":"pending"}])");
  CHECK(str(value_of(seen[1]).find("units")) == "1:a:done 2:b:in_progress");
  CHECK(done.output.find("done")->as_integer() == 2);
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

}  // namespace
}  // namespace artana::testing
