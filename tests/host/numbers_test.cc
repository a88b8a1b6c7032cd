// Numbers through every syscall that records a value: what is written is read back the same,
// in a new process, and the ledger verifies. (A recorded `run:now() * 1e9`, a port output
// {v = 2^60} before a pause and a tool returning 1e20 once made their runs unreadable.)
#include <catch2/catch.hpp>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

// Every number class: ±0, subnormals, around 2^53, the integral doubles beyond it that
// RFC 8785 writes with all their digits, 1e21 and beyond, the largest double.
const char kNumbers[] = R"lua(
local artana = require "artana"
local numbers = { 0, -0.0, 5e-324, -2.2250738585072014e-308, 0.1, -123456.75,
  2^53 - 1, 2^53, -(2^53), 2.0^53 + 2, 2^60, -(2^60), 1e20, -1e20, 999999999999999868928.0,
  1e21, 1.5e300, 1.7976931348623157e308, -1.7976931348623157e308, 9007199254740991 }
artana.model_port("numbers", function(req)
  return { output = { v = numbers }, usage = { prompt_tokens = 1, completion_tokens = 1 } }
end)
artana.tool { name = "echo_numbers", fn = function(args) return { v = args.v } end }
return function(run, input)
  local got = {}
  got.step = run:step("numbers", function() return numbers end)
  got.model = run:model { model = "numbers", prompt = "n" }.output.v
  if input.pause then got.answer = run:pause("go on?", { v = numbers }) end
  got.tool = run:tool("echo_numbers", { v = numbers }).result.v
  run:summary("numbers", { v = numbers })
  run:artifact("numbers", numbers)
  got.artifact = run:artifact("numbers")
  got.now_ns = run:now() * 1e9
  -- Each value equal to the number written. JSON has one number type: an integral value up
  -- to 2^53 comes back as an integer (as it reads from the ledger), any other as a float.
  local same = true
  for _, name in ipairs { "step", "model", "tool", "artifact" } do
    for i, n in ipairs(numbers) do
      local v = got[name][i]
      local integral = n == math.floor(n) and math.abs(n) <= 2^53
      if v ~= n or math.type(v) ~= (integral and "integer" or "float") then
        same = false
        print(name .. "[" .. i .. "] " .. tostring(v) .. " ~= " .. tostring(n))
      end
    end
  end
  got.same = same
  return got
end
)lua";

TEST_CASE("every number class written through every syscall reads back the same in a new process",
          "[host][numbers]") {
  HostFixture f;
  const std::string path = f.script("numbers.lua", kNumbers);
  host::RunOutcome first = f.run(path, "run-numbers");
  INFO(text(first.error));
  std::string printed;
  for (const std::string& line : f.printed) printed += line + "\n";
  INFO(printed);
  REQUIRE(first.status == RunStatus::kCompleted);
  CHECK(first.output.find("same")->as_bool());
  f.restart();
  host::RunOutcome again = f.run(path, "run-numbers");
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) == text(first.output));
  auto report = f.kernel_host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("numbers recorded before a pause read back when the run is resumed in a new process",
          "[host][numbers]") {
  HostFixture f;
  const std::string path = f.script("numbers.lua", kNumbers);
  host::RunOutcome paused = f.run(path, "run-paused", Json::object({{"pause", true}}));
  INFO(text(paused.error));
  REQUIRE(paused.status == RunStatus::kPaused);
  f.restart();
  REQUIRE(f.run(path, "run-paused", Json::object({{"pause", true}})).status == RunStatus::kPaused);
  Status resumed = f.host->resume(kernel::RunId("run-paused"), Json(1e20));
  INFO(resumed.message());
  REQUIRE(resumed.ok());
  host::RunOutcome done = f.drive("run-paused");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("same")->as_bool());
  CHECK(done.output.find("answer")->as_double() == 1e20);
  auto report = f.kernel_host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE(
    "an integer no JSON reader can carry is refused with its path before anything is "
    "appended",
    "[host][numbers]") {
  HostFixture f;
  const std::string path = f.script("big_integer.lua", R"lua(
return function(run)
  return run:step("big", function() return { n = math.maxinteger } end)
end
)lua");
  host::RunOutcome failed = f.run(path, "run-big");
  REQUIRE(failed.status == RunStatus::kFailed);
  const std::string message = text(failed.error);
  CHECK(message.find("9223372036854775807") != std::string::npos);
  CHECK(message.find(".n") != std::string::npos);
  CHECK(f.count("run-big", "step_completed") == 0);
  auto report = f.kernel_host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

}  // namespace
}  // namespace artana::testing
