// Syscalls through Lua: step keys, values, memoised steps, scopes, parallel, versions.
#include <catch2/catch.hpp>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

// The step keys of the terminal-ish events of a run, in order.
std::vector<std::string> step_keys(HostFixture& f, const std::string& run) {
  std::vector<std::string> keys;
  for (const kernel::Event& event : f.events(run)) {
    const Json* key = event.payload.find("step_key");
    if (key != nullptr && key->is_string() && event.type != "run_halted")
      keys.push_back(event.type + " " + key->as_string());
  }
  return keys;
}

const char kEcho[] = R"lua(
local artana = require "artana"
artana.model_port("echo", function(req)
  return { output = { text = req.prompt }, usage = { prompt_tokens = 1, completion_tokens = 1 } }
end)
)lua";

TEST_CASE("derived step keys count per kind and per scope path", "[host]") {
  HostFixture f;
  const std::string path = f.script("keys.lua", std::string(kEcho) + R"lua(
return function(run)
  run:now()
  run:model { model = "echo", prompt = "a" }
  run:now()
  run:scope("plan", function()
    run:now()
    run:model { model = "echo", prompt = "b", step_key = "draft" }
    run:scope("inner", function() run:random() end)
  end)
  run:scope("plan", function() run:now() end)
  return "ok"
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-keys");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(step_keys(f, "run-keys") ==
        std::vector<std::string>{"time_read now:1", "model_requested model:1",
                                 "model_completed model:1", "time_read now:2",
                                 "time_read plan/now:1", "model_requested plan/draft",
                                 "model_completed plan/draft", "random_read plan/inner/random:1",
                                 "time_read plan/now:2"});
}

TEST_CASE("a step key used twice names both lines", "[host]") {
  HostFixture f;
  const std::string path = f.script("twice.lua", std::string(kEcho) + R"lua(
return function(run)
  run:model { model = "echo", prompt = "a", step_key = "same" }
  run:model { model = "echo", prompt = "b", step_key = "same" }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-twice");
  REQUIRE(outcome.status == RunStatus::kFailed);
  CHECK_THAT(outcome.error.find("message")->as_string(),
             Catch::Contains("twice.lua:8") && Catch::Contains("twice.lua:9"));
}

// Derived keys are not kept in a set (they are unique among themselves); an explicit key
// equal to a derived one, before or after it, at the root or through a scope, still collides.
TEST_CASE("an explicit step key equal to a derived key is used twice, in either order", "[host]") {
  HostFixture f;
  const std::string path = f.script("derived_twice.lua", std::string(kEcho) + R"lua(
local function fails(fn)
  local ok, err = pcall(fn)
  return not ok and err.kind == "invalid_argument" and err.message:find("used twice") ~= nil
end
return function(run)
  local out = {}
  run:model { model = "echo", prompt = "derived" }                          -- model:1
  out.after_derived = fails(function()
    run:model { model = "echo", prompt = "x", step_key = "model:1" } end)
  out.not_yet = not fails(function()
    run:model { model = "echo", prompt = "x", step_key = "model:3" } end)   -- explicit first
  run:model { model = "echo", prompt = "derived" }                          -- model:2
  out.derived_after = fails(function() run:model { model = "echo", prompt = "x" } end)  -- model:3
  run:scope("s", function() run:model { model = "echo", prompt = "in scope" } end)  -- s/model:1
  out.through_slash = fails(function()
    run:model { model = "echo", prompt = "x", step_key = "s/model:1" } end)
  out.leading_zero = not fails(function()
    run:model { model = "echo", prompt = "x", step_key = "model:01" } end)
  return out
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-derived-twice");
  REQUIRE(outcome.status == RunStatus::kCompleted);
  for (const char* check :
       {"after_derived", "not_yet", "derived_after", "through_slash", "leading_zero"}) {
    INFO(check);
    const Json* v = outcome.output.find(check);
    REQUIRE(v != nullptr);
    CHECK(v->as_bool());
  }
}

TEST_CASE("bad syscall arguments are invalid_argument errors naming the call, nothing recorded",
          "[host]") {
  HostFixture f;
  const std::string path = f.script("bad_args.lua", std::string(kEcho) + R"lua(
artana.tool { name = "t", args = {}, fn = function() return {} end }
return function(run)
  local calls = {
    function() run:model("not a table") end,
    function() run:model { model = "echo", prompt = "a", colour = "red", bogus = 1 } end,
    function() run:model { "echo", "a" } end,
    function() run:model { prompt = "a" } end,
    function() run:model { model = "echo" } end,
    function() run:model { model = "echo", prompt = "a", messages = {} } end,
    function() run:model { model = "echo", prompt = 7 } end,
    function() run:model { model = "echo", messages = { { role = "user", content = print } } } end,
    function() run:model { model = "echo", prompt = "a", tools = { 1 } } end,
    function() run:model { model = "echo", prompt = "a", retry_failed = "yes" } end,
    function() run:model { model = "echo", prompt = "a", replay = "sometimes" } end,
    function() run:tool(7) end,
    function() run:tool("t", "x") end,
    function() run:tool("t", {}, { 1, 2 }) end,
    function() run:tool("t", {}, { colour = "red" }) end,
    function() run:pause(false) end,
    function() run:sleep(-1) end,
    function() run:sleep(0 / 0) end,
    function() run:random(1.5) end,
    function() run:random(5, 1) end,
    function() run:random(1, 2 ^ 60) end,
    function() run:summary("", 1) end,
    -- Two unknown fields: the least is named, whatever the table's hash order.
    function() run:summary("k", 1, { zz = 1, key = "x", kee = 2 }) end,
    -- A table with a metatable is read as pairs reads it.
    function() run:summary("k", 1, setmetatable({}, { __pairs = function()
      return next, { stepkey = "s" }, nil end })) end,
    function() run:artifact(3) end,
    function() run:version("v1") end,
    function() run:step("", function() end) end,
    function() run:scope(1, function() end) end,
  }
  local out = {}
  for i, call in ipairs(calls) do
    local ok, err = pcall(call)
    out[i] = ok and "ok" or (err.kind .. ": " .. err.message)
  end
  return out
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-bad-args");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  const std::vector<std::string> expected = {
      "run:model expects a table",
      "run:model: unknown field 'bogus' (fields: model, prompt, messages, schema, tools, "
      "step_key, replay, retry_failed, options, stream)",
      "run:model: the request has positional items",
      "run:model: `model` must name a model port",
      "run:model: give exactly one of `prompt` (a string) and `messages`",
      "run:model: give exactly one of `prompt` (a string) and `messages`",
      "run:model: `prompt` must be a string",
      "request.messages[1].content: a function cannot cross as JSON",
      "run:model: `tools` must be an array of tool names",
      "run:model: `retry_failed` must be a boolean",
      "sometimes",
      "run:tool(name, args, options): name must be a string",
      "run:tool: args must be a table",
      "run:tool: options must be a table of named options",
      "run:tool: bad option 'colour'",
      "run:pause(reason [, context]): reason must be a string",
      "run:sleep(seconds): a number from 0 to 1e9",
      "run:sleep(seconds): a number from 0 to 1e9",
      "run:random(m) an integer in [1,m]",
      "run:random: the interval is empty (5 > 1)",
      "run:random: bounds must be within",
      "run:summary(kind, value): kind must be a non-empty string",
      "run:summary options: unknown field 'kee'",
      "run:summary options: unknown field 'stepkey'",
      "run:artifact(key [, value]): key must be a string",
      "run:version(change_id, max)",
      "run:step(name, fn): name must be a non-empty string",
      "run:scope(name, fn): name must be a string",
  };
  REQUIRE(outcome.output.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::string got = outcome.output.as_array()[i].as_string();
    INFO(i << ": " << got);
    CHECK_THAT(got, Catch::StartsWith("invalid_argument: ") && Catch::Contains(expected[i]));
  }
  // Refused before a step key was claimed or anything appended: no event names a step.
  for (const kernel::Event& event : f.events("run-bad-args")) {
    INFO(event.type);
    CHECK(event.payload.find("step_key") == nullptr);
  }
}

TEST_CASE("now and random replay the recorded values in a new process", "[host]") {
  HostFixture f;
  const std::string path = f.script("values.lua", R"lua(
return function(run)
  return { t = run:now(), f = run:random(), d = run:random(6), r = run:random(10, 20) }
end
)lua");
  host::RunOutcome first = f.run(path, "run-values");
  INFO(text(first.error));
  REQUIRE(first.status == RunStatus::kCompleted);
  CHECK(first.output.find("t")->as_number() == Approx(1'700'000'000.0));
  const int64_t d = first.output.find("d")->as_integer();
  CHECK((d >= 1 && d <= 6));
  const int64_t r = first.output.find("r")->as_integer();
  CHECK((r >= 10 && r <= 20));
  const double x = first.output.find("f")->as_number();
  CHECK((x >= 0 && x < 1));
  f.restart();
  f.clock_us += 5'000'000;
  host::RunOutcome again = f.run(path, "run-values");
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) == text(first.output));
}

TEST_CASE("the heap a script reads is recorded: a tool given it replays without drift",
          "[host][determinism]") {
  HostFixture f;
  const std::string path = f.script("heap.lua", R"lua(
local artana = require "artana"
artana.tool { name = "note", side_effect = true, args = { bytes = "integer" },
              fn = function(args, ctx) return { seen = args.bytes } end }
return function(run)
  local garbage = {}
  for i = 1, 1000 do garbage[i] = { i } end  -- live only: a replay's heap is another size
  local bytes = run:memory()
  run:tool("note", { bytes = bytes })
  return bytes
end
)lua");
  host::RunOutcome first = f.run(path, "run-heap");
  INFO(text(first.error));
  REQUIRE(first.status == RunStatus::kCompleted);
  CHECK(first.output.as_integer() > 50'000);  // the prelude and the tables above
  CHECK(step_keys(f, "run-heap").front() == "memory_read memory:1");
  f.restart();
  host::RunOutcome again = f.run(path, "run-heap");
  INFO(text(again.error));
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) == text(first.output));

  const std::string counted = f.script("count.lua", R"lua(
return function(run) return collectgarbage("count") end
)lua");
  host::RunOutcome refused = f.run(counted, "run-count");
  CHECK(refused.status == RunStatus::kFailed);
  CHECK(text(refused.error).find("run:memory()") != std::string::npos);
}

TEST_CASE("run:random is a function of the seed and the step key", "[host]") {
  HostFixture f;
  const std::string path = f.script("seeded.lua", R"lua(
return function(run) return { run:random(1000000), run:random(1000000) } end
)lua");
  host::RunOptions seeded;
  seeded.seed = 42;
  host::RunOutcome a = f.run(path, "run-seed-a", Json::object(), seeded);
  host::RunOutcome b = f.run(path, "run-seed-b", Json::object(), seeded);
  REQUIRE(a.status == RunStatus::kCompleted);
  CHECK(text(a.output) == text(b.output));
  CHECK(text(a.output.as_array()[0]) != text(a.output.as_array()[1]));
}

TEST_CASE("run:step runs its function once and replays its value", "[host]") {
  HostFixture f;
  const std::string path = f.script("step.lua", R"lua(
local runs = 0
return function(run)
  local v = run:step("compute", function() runs = runs + 1; return { n = 41 + runs } end)
  return { v = v.n, runs = runs }
end
)lua");
  host::RunOutcome first = f.run(path, "run-step");
  REQUIRE(first.status == RunStatus::kCompleted);
  CHECK(text(first.output) == R"({"runs":1,"v":42})");
  f.restart();
  host::RunOutcome again = f.run(path, "run-step");
  CHECK(text(again.output) == R"({"runs":0,"v":42})");
}

TEST_CASE("a syscall inside run:step is refused", "[host]") {
  HostFixture f;
  const std::string path = f.script("stepcall.lua", R"lua(
return function(run)
  local ok, err = pcall(function() return run:step("s", function() return run:now() end) end)
  return { ok = ok, kind = err.kind, msg = err.message }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-stepcall");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("kind")->as_string() == "sandbox_violation");
  CHECK_THAT(outcome.output.find("msg")->as_string(), Catch::Contains("run:scope"));
}

TEST_CASE("run:parallel returns results in the given order with per-branch keys", "[host]") {
  HostFixture f;
  const std::string path = f.script("par.lua", std::string(kEcho) + R"lua(
return function(run)
  local list = run:parallel {
    function(r) return r:model { model = "echo", prompt = "one" }.output.text end,
    function(r) r:now(); return "two" end,
    function(r) return r:model { model = "echo", prompt = "three" }.output.text end,
  }
  local named = run:parallel({
    zeta = function(r) return r:random(5) > 0 end,
    alpha = function(r) return "a" end,
  }, { max_concurrency = 1 })
  return { list = list, zeta = named.zeta, alpha = named.alpha }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-par");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"alpha":"a","list":["one","two","three"],"zeta":true})");
  std::vector<std::string> keys = step_keys(f, "run-par");
  CHECK(std::count(keys.begin(), keys.end(), "model_completed 1/model:1") == 1);
  CHECK(std::count(keys.begin(), keys.end(), "model_completed 3/model:1") == 1);
  CHECK(std::count(keys.begin(), keys.end(), "time_read 2/now:1") == 1);
  CHECK(std::count(keys.begin(), keys.end(), "random_read zeta/random:1") == 1);
}

TEST_CASE("run:parallel raises the first error in key order after the others stop", "[host]") {
  HostFixture f;
  const std::string path = f.script("parfail.lua", std::string(kEcho) + R"lua(
return function(run)
  local ok, err = pcall(run.parallel, run, {
    function(r) r:model { model = "echo", prompt = "slow" }; error({ kind = "first", message = "1" }) end,
    function(r) error({ kind = "second", message = "2" }) end,
    function(r) r:now(); r:now(); return 3 end,
  })
  return { ok = ok, kind = err.kind }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-parfail");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"kind":"first","ok":false})");
}

TEST_CASE("script coroutines may make syscalls", "[host]") {
  HostFixture f;
  const std::string path = f.script("co.lua", std::string(kEcho) + R"lua(
return function(run)
  local co = coroutine.wrap(function(a)
    local r = run:model { model = "echo", prompt = a }
    local b = coroutine.yield(r.output.text)
    return b .. "!" .. run:random(3)
  end)
  local first = co("hello")
  local second = co("bye")
  return { first = first, second = second }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-co");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("first")->as_string() == "hello");
  CHECK_THAT(outcome.output.find("second")->as_string(), Catch::StartsWith("bye!"));
}

TEST_CASE("a syscall where no wait can reach the host is a sandbox_violation", "[host]") {
  HostFixture f;
  const std::string path = f.script("sort.lua", R"lua(
return function(run)
  local ok, err = pcall(table.sort, { 3, 1, 2 }, function(a, b) run:now(); return a < b end)
  local ok2, err2 = pcall(string.gsub, "abc", "%w", function() return run:random() end)
  return { ok = ok, kind = err.kind, ok2 = ok2, kind2 = err2.kind, after = run:now() > 0 }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-sort");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(
      text(outcome.output) ==
      R"({"after":true,"kind":"sandbox_violation","kind2":"sandbox_violation","ok":false,"ok2":false})");
}

TEST_CASE("run:version records max for a live run and 0 for old history", "[host]") {
  HostFixture f;
  const std::string old_code = f.script("v1.lua", R"lua(
return function(run) run:now(); run:pause("wait") ; return "old" end
)lua");
  REQUIRE(f.run(old_code, "run-version").status == RunStatus::kPaused);
  const std::string new_code = f.script("v2.lua", R"lua(
return function(run)
  run:now()
  local v = run:version("add-step", 2)
  local input = run:pause("wait")
  return { v = v, input = input }
end
)lua");
  f.restart();
  REQUIRE(f.kernel_host.kernel
              ->resume(kernel::TenantId("acme"), kernel::RunId("run-version"), Json("go"))
              .ok());
  host::RunOutcome outcome = f.run(new_code, "run-version");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"input":"go","v":0})");
  host::RunOutcome fresh = f.run(new_code, "run-version-new");
  REQUIRE(fresh.status == RunStatus::kPaused);
  CHECK(f.count("run-version-new", "version_marker") == 1);
}

}  // namespace
}  // namespace artana::testing
