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

// The stdlib's one list: every halt and the host's own trouble pass through a library,
// nothing else does (a unit's, node's, gate's or tool's failure is the library's to count).
TEST_CASE("artana.passes_through says which kinds a library lets through", "[stdlib][errors]") {
  HostFixture f(stdlib_options());
  const std::string path = f.script("through.lua", R"lua(
local artana = require "artana"
return function(run, input)
  local out = {}
  for _, kind in ipairs(input.kinds) do
    out[kind] = artana.passes_through({ kind = kind, message = "m" })
  end
  out.not_a_table = artana.passes_through("replay_drift")
  return out
end
)lua");
  kernel::Json kinds = kernel::Json::array();
  for (const ErrorKindRow& row : kErrorKinds) {
    if (!row.name.empty()) kinds.push_back(kernel::Json(std::string(row.name)));
  }
  host::RunOutcome outcome = f.run(path, "run-through", kernel::Json::object({{"kinds", kinds}}));
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  std::vector<std::string> through;
  for (const ErrorKindRow& row : kErrorKinds) {
    if (row.name.empty()) continue;
    const kernel::Json* passes = outcome.output.find(std::string(row.name));
    REQUIRE(passes != nullptr);
    if (passes->as_bool()) through.emplace_back(row.name);
  }
  CHECK(through == std::vector<std::string>{
                       "limit_exceeded", "replay_drift", "reconciliation_required",
                       "budget_exceeded", "cancelled", "lease_held", "storage_error", "internal"});
  CHECK_FALSE(outcome.output.find("not_a_table")->as_bool());
}

}  // namespace
}  // namespace artana::testing
