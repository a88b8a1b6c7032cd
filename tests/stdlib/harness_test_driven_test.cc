// artana.harness's test-driven harness (stdlib/harness/test_driven.lua): a unit is done only
// through h:verify_and_commit, whose check runs with run:exec in a workspace (and, with
// adjudicate, a verify model that must agree).
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "stdlib/harness_helpers.h"

namespace artana::testing {
namespace {

using namespace harness_testing;

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
    unit.tried = true  -- a unit's own field: the script's to write
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

}  // namespace
}  // namespace artana::testing
