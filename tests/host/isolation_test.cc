// Sandbox escapes and runaway scripts end their own run only; runs interleave in one host.
#include <catch2/catch.hpp>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

const char kWellBehaved[] = R"lua(
return function(run)
  local total = 0
  for i = 1, 3 do total = total + run:random(10) ; run:now() end
  return { ok = true }
end
)lua";

// Starts `bad` and a well-behaved run side by side; both must end, the good one completed.
host::RunOutcome run_beside_good_run(HostFixture& f, const std::string& bad,
                                     host::HostOptions opts = {}) {
  (void)opts;
  const std::string bad_path = f.script("bad.lua", bad);
  const std::string good_path = f.script("good.lua", kWellBehaved);
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.run_id = kernel::RunId("run-bad");
  REQUIRE(f.host->start(bad_path, options).ok());
  options.run_id = kernel::RunId("run-good");
  REQUIRE(f.host->start(good_path, options).ok());
  host::RunOutcome good = f.drive("run-good");
  INFO(text(good.error));
  CHECK(good.status == RunStatus::kCompleted);
  return f.drive("run-bad");
}

TEST_CASE("an endless loop ends its own run with limit_exceeded, pcall cannot catch it", "[host]") {
  host::HostOptions options;
  options.limits.max_instructions = 5'000'000;
  HostFixture f(options);
  host::RunOutcome bad = run_beside_good_run(f, R"lua(
return function(run)
  run:now()
  while true do pcall(function() while true do end end) end
end
)lua");
  CHECK(bad.status == RunStatus::kFailed);
  CHECK(bad.error.find("kind")->as_string() == "limit_exceeded");
  CHECK(f.count("run-bad", "run_failed") == 1);
}

TEST_CASE("a memory bomb ends its own run", "[host]") {
  host::HostOptions options;
  options.limits.max_memory_bytes = 8 << 20;
  HostFixture f(options);
  host::RunOutcome bad = run_beside_good_run(f, R"lua(
return function(run)
  local t = {}
  local ok = pcall(function() for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end end)
  return "survived"
end
)lua");
  CHECK(bad.status == RunStatus::kFailed);
  CHECK(bad.error.find("kind")->as_string() == "limit_exceeded");
}

TEST_CASE("a pattern bomb ends its own run within the instruction budget", "[host]") {
  host::HostOptions options;
  options.limits.max_instructions = 20'000'000;
  HostFixture f(options);
  host::RunOutcome bad = run_beside_good_run(f, R"lua(
return function(run)
  local subject = string.rep("a", 1024)
  return string.find(subject, string.rep("a*", 30) .. "b")
end
)lua");
  CHECK(bad.status == RunStatus::kFailed);
  CHECK(bad.error.find("kind")->as_string() == "limit_exceeded");
}

TEST_CASE("sandbox escapes fail with sandbox_violation and the host stays healthy", "[host]") {
  HostFixture f;
  const std::string path = f.script("escape.lua", R"lua(
local attempts = {
  function() return io.open("/etc/passwd") end,
  function() return os.execute("true") end,
  function() return os.time() end,
  function() return math.random() end,
  function() return debug.getregistry() end,
  function() return package.loaded end,
  function() return load(string.dump(function() end)) end,
  function() return require("../../etc/passwd") end,
  function() undeclared_global = 1 end,
  function() return setmetatable({}, { __gc = function() end }) end,
  function() return collectgarbage("collect") end,
  function() return string.format("%p", {}) end,
  function(run) run.id = "other" end,
}
return function(run)
  local kinds = {}
  for i, attempt in ipairs(attempts) do
    local ok, err = pcall(attempt, run)
    kinds[i] = ok and "allowed" or (type(err) == "table" and err.kind or tostring(err))
  end
  return kinds
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-escape");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  for (const Json& kind : outcome.output.as_array()) {
    INFO(text(outcome.output));
    CHECK(kind.as_string() != "allowed");
  }
  CHECK(outcome.output.as_array()[0].as_string() == "sandbox_violation");
  CHECK(outcome.output.as_array()[7].as_string() == "script_error");
  // The host runs another script afterwards as if nothing happened.
  const std::string good = f.script("good.lua", kWellBehaved);
  CHECK(f.run(good, "run-after").status == RunStatus::kCompleted);
}

TEST_CASE("many runs interleave in one host, each replaying its own ledger", "[host]") {
  HostFixture f;
  const std::string path = f.script("loop.lua", R"lua(
local artana = require "artana"
artana.model_port("m", function(req) return { output = req.prompt } end)
return function(run, input)
  local acc = {}
  for i = 1, 20 do acc[i] = run:model { model = "m", prompt = input.name .. i }.output end
  return acc[20]
end
)lua");
  for (int i = 0; i < 8; ++i) {
    host::RunOptions options;
    options.tenant.tenant_id = kernel::TenantId("acme");
    options.run_id = kernel::RunId("run-many-" + std::to_string(i));
    options.input = Json::object({{"name", "r" + std::to_string(i) + "-"}});
    REQUIRE(f.host->start(path, options).ok());
  }
  for (int i = 0; i < 8; ++i) {
    host::RunOutcome outcome = f.drive("run-many-" + std::to_string(i));
    REQUIRE(outcome.status == RunStatus::kCompleted);
    CHECK(outcome.output.as_string() == "r" + std::to_string(i) + "-20");
    CHECK(f.count("run-many-" + std::to_string(i), "model_completed") == 20);
  }
}

TEST_CASE("tool registration errors name the tool", "[host]") {
  HostFixture f;
  const std::string side = f.script("side.lua", R"lua(
local artana = require "artana"
artana.tool { name = "pay", side_effect = true, fn = function(args) return true end }
return function(run) end
)lua");
  host::RunOutcome outcome = f.run(side, "run-side");
  REQUIRE(outcome.status == RunStatus::kFailed);
  CHECK_THAT(outcome.error.find("message")->as_string(), Catch::Contains("(args, ctx)"));
  CHECK(outcome.error.find("where")->as_string() == "side.lua:3");
  const std::string twice = f.script("twice.lua", R"lua(
local artana = require "artana"
artana.tool { name = "t", fn = function(args) return true end }
artana.tool { name = "t", fn = function(args) return true end }
return function(run) end
)lua");
  CHECK_THAT(f.run(twice, "run-twice").error.find("message")->as_string(),
             Catch::Contains("registered twice"));
}

TEST_CASE("require loads modules from the script's folder and records their hashes", "[host]") {
  HostFixture f;
  f.script("lib/text.lua", R"lua(
local M = {}
function M.shout(s) return string.upper(s) .. "!" end
return M
)lua");
  const std::string path = f.script("main.lua", R"lua(
local text = require "lib.text"
return function(run) run:pause(text.shout("hi")) end
)lua");
  host::RunOutcome outcome = f.run(path, "run-require");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kPaused);
  CHECK(f.events("run-require").back().payload.find("reason")->as_string() == "HI!");
  std::vector<kernel::Event> events = f.events("run-require");
  const kernel::Event* loaded = nullptr;
  for (const kernel::Event& e : events)
    if (e.type == "script_loaded") loaded = &e;
  REQUIRE(loaded != nullptr);
  CHECK(loaded->payload.find("modules")->find("lib.text") != nullptr);
  // A changed module is recorded on the next execution; an unchanged one is not.
  f.restart();
  REQUIRE(f.run(path, "run-require").status == RunStatus::kPaused);
  CHECK(f.count("run-require", "script_loaded") == 1);
  f.script("lib/text.lua", "local M = {} function M.shout(s) return s end return M\n");
  f.restart();
  f.run(path, "run-require");
  CHECK(f.count("run-require", "script_loaded") == 2);
}

}  // namespace
}  // namespace artana::testing

namespace artana::testing {
namespace {

// Fills the heap to within a few hundred bytes of the 8 MiB limit, then does `then`.
std::string near_limit_then(const std::string& then) {
  return R"lua(local artana = require "artana"
artana.model_port("m", function(req)
  return { output = string.rep("y", 4096) }
end)
return function(run)
  local limit = 8 * 1024 * 1024
  local t = {}
  -- Closer each round: a table is at least 56 bytes, and reading the heap is one step.
  local left = limit - 200 - run:memory()
  while left > 0 do
    for _ = 1, left // 64 + 1 do t = { t } end
    left = limit - 200 - run:memory()
  end
  )lua" + then +
         R"lua(
  return t ~= nil
end
)lua";
}

TEST_CASE("a heap filled to the limit then a host push ends its own run, never the process",
          "[host][boundary]") {
  const char* thens[] = {
      "coroutine.yield()",                        // the host builds an error
      "run:model { model = 'm', prompt = 'p' }",  // the port's result
      "run:parallel { a = function() return 1 end, b = function() return 2 end }",
      "error(string.rep('e', 100))",  // the error's traceback
  };
  for (const char* then : thens) {
    INFO(then);
    host::HostOptions options;
    options.limits.max_memory_bytes = 8 << 20;
    HostFixture f(options);
    host::RunOutcome bad = run_beside_good_run(f, near_limit_then(then));
    INFO(text(bad.error));
    CHECK(bad.status == RunStatus::kFailed);
  }
}

}  // namespace
}  // namespace artana::testing
