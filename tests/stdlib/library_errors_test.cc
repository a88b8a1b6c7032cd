// artana.fail: the error kinds a library (the stdlib) raises reach the run's end as
// themselves, and a script cannot raise a kernel's kind with it.
#include <catch2/catch.hpp>

#include "stdlib/stdlib_fixture.h"

namespace artana::testing {
namespace {

using kernel::RunStatus;

TEST_CASE("artana.fail raises a library's kind, which ends the run as that kind",
          "[stdlib][errors]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("fail.lua", R"lua(
local artana = require "artana"
return function(run, input)
  local ok, err = pcall(artana.fail, "budget_exceeded", "not mine to raise")
  assert(not ok and err.kind == "invalid_argument", err.kind)
  local caught_ok, caught = pcall(artana.fail, "graph_invalid", "caught")
  assert(not caught_ok and caught.kind == "graph_invalid")
  artana.fail(input.kind, "the units are in a bad state")
end
)lua");
  for (const char* kind :
       {"harness_state", "task_invalid", "child_failed", "agent_exhausted", "graph_invalid"}) {
    host::RunOutcome outcome =
        f.run(path, std::string("run-") + kind, kernel::Json::object({{"kind", kind}}));
    INFO(text(outcome.error));
    REQUIRE(outcome.status == RunStatus::kFailed);
    CHECK(outcome.error.find("kind")->as_string() == kind);
    CHECK(outcome.error.find("script_kind") == nullptr);
    CHECK(outcome.error.find("message")->as_string() == "the units are in a bad state");
  }
}

TEST_CASE("a stdlib refusal names the script line that called it", "[stdlib][errors]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("where.lua", R"lua(
local harness = require "artana.harness"
return function(run)
  local ok, err = pcall(harness.base, { name = "h", step = function() end, bogus = 1 })
  return { kind = err.kind, where = err.where, traceback = err.traceback }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-where");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("kind")->as_string() == "invalid_argument");
  CHECK_THAT(outcome.output.find("where")->as_string(), Catch::EndsWith("where.lua:4"));
}

}  // namespace
}  // namespace artana::testing
