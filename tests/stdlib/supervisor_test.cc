// artana.harness's supervisor (stdlib/harness/supervisor.lua) over run:child: h:child and
// its summary, h:children at once with results in the list's order, a failing child, the
// capabilities a child may get, a paused child holding the supervisor, and re-execution.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "stdlib/harness_helpers.h"

namespace artana::testing {
namespace {

using namespace harness_testing;
using kernel::RunId;

// The child: `steps` model calls before the last, or a failure, or a pause first.
const char kWorker[] = R"lua(
local artana = require "artana"
artana.model_port("m", function(req)
  print("MODEL " .. req.prompt)
  return { output = { text = "done: " .. req.prompt } }
end)
return function(run, input)
  if input.fail then error({ kind = "permanent_error", message = "the child gave up" }) end
  if input.pause then run:pause("ask", {}) end
  local task = input.task or "nothing"
  for i = 1, input.steps or 0 do run:model { model = "m", prompt = task .. " step " .. i } end
  return { text = run:model { model = "m", prompt = task }.output.text }
end
)lua";

// The supervisor: input.one is h:child's opts, else input.children is h:children's list.
const char kBoss[] = R"lua(
local h = harness.supervisor {
  name = "boss",
  step = function(h, ctx)
    if ctx.input.one then
      local c = h:child(ctx, "worker.lua", ctx.input.one)
      print("replayed " .. tostring(c.replayed))
      return { text = c.output.text, status = c.status, run_id = c.run_id }
    end
    local out = {}
    for i, c in ipairs(h:children(ctx, ctx.input.children)) do
      print("replayed " .. i .. " " .. tostring(c.replayed))
      out[i] = { text = c.output.text, status = c.status, run_id = c.run_id }
    end
    return out
  end,
}
return h:entry()
)lua";

Json json(const std::string& source) {
  auto parsed = kernel::parse_json(source);
  REQUIRE(parsed.ok());
  return *parsed;
}

// A fixture with the worker and the supervisor written; returns the supervisor's path.
std::string boss(HostFixture& f) {
  f.script("worker.lua", kWorker);
  return f.script("boss.lua", lua(kBoss));
}

bool run_exists(HostFixture& f, const std::string& id) {
  return f.kernel_host.store->run_info(RunId(id)).ok();
}

size_t lines(const HostFixture& f, const std::string& line) {
  size_t n = 0;
  for (const std::string& printed : f.printed) n += printed == line;
  return n;
}

// The values of a run's supervisor_child summaries, in order.
std::vector<std::string> child_summaries(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : summaries_of(f, run, "supervisor_child"))
    out.push_back(text(value_of(e)));
  return out;
}

std::string child_summary(const std::string& run_id, const std::string& status) {
  return R"({"run_id":")" + run_id + R"(","script":"worker.lua","status":")" + status + R"("})";
}

host::RunOptions with_caps(std::vector<std::string> caps) {
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.tenant.capabilities = std::move(caps);
  return options;
}

TEST_CASE("h:child runs a child run and writes supervisor_child {script, run_id, status}",
          "[harness][supervisor][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = boss(f);
  host::RunOutcome done = f.run(path, "sup-1", json(R"({"one": {"input": {"task": "t1"}}})"));
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  const std::string child = str(done.output.find("run_id"));
  CHECK(child == "sup-1::child::boss/wake:1/child:1");  // the step key names it
  CHECK(str(done.output.find("text")) == "done: t1");
  CHECK(str(done.output.find("status")) == "completed");
  CHECK(f.printed == std::vector<std::string>{"MODEL t1", "replayed false"});
  CHECK(child_summaries(f, "sup-1") == std::vector<std::string>{child_summary(child, "completed")});
  const auto summary = summaries_of(f, "sup-1", "supervisor_child");
  CHECK_THAT(str(summary[0].payload.find("step_key")), Catch::StartsWith("boss/wake:1/"));
  auto info = f.kernel_host.store->run_info(RunId(child));
  REQUIRE(info.ok());
  CHECK(info->status == RunStatus::kCompleted);
  REQUIRE(info->header.parent_run_id);
  CHECK(info->header.parent_run_id->str() == "sup-1");
  CHECK(f.count("sup-1", "child_started") == 1);
  CHECK(f.count("sup-1", "child_completed") == 1);
  CHECK(summaries_of(f, "sup-1", "harness_sleep").size() == 1);
}

TEST_CASE("h:children runs its children at once, results in the list's order",
          "[harness][supervisor][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = boss(f);
  // The first child has the most to do; the last is a bare script path.
  host::RunOutcome done = f.run(path, "sup-2", json(R"({"children": [
      {"script": "worker.lua", "opts": {"input": {"task": "slow", "steps": 3}}},
      {"script": "worker.lua", "opts": {"input": {"task": "quick"}}},
      "worker.lua"]})"));
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  const Json::Array& out = done.output.as_array();
  REQUIRE(out.size() == 3);
  CHECK(str(out[0].find("text")) == "done: slow");
  CHECK(str(out[1].find("text")) == "done: quick");
  CHECK(str(out[2].find("text")) == "done: nothing");
  // At once: every child started before any ended.
  std::vector<std::string> order;
  for (const kernel::Event& e : f.events("sup-2")) {
    if (e.type == "child_started" || e.type == "child_completed") order.push_back(e.type);
  }
  CHECK(order == std::vector<std::string>{"child_started", "child_started", "child_started",
                                          "child_completed", "child_completed", "child_completed"});
  // A summary per child, each in its branch's scope, naming the child's run.
  std::vector<std::string> expected, ids;
  for (const Json& result : out) {
    const std::string id = str(result.find("run_id"));
    ids.push_back(id);
    expected.push_back(child_summary(id, "completed"));
    auto info = f.kernel_host.store->run_info(RunId(id));
    REQUIRE(info.ok());
    CHECK(info->status == RunStatus::kCompleted);
    CHECK(f.count(id, "run_started") == 1);
  }
  std::vector<std::string> got = child_summaries(f, "sup-2");
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  CHECK(got == expected);
  CHECK(ids[0] != ids[1]);
  CHECK(ids[1] != ids[2]);
  // Each branch of run:parallel is scope <n>: the summaries are keyed by it.
  const auto summaries = summaries_of(f, "sup-2", "supervisor_child");
  REQUIRE(summaries.size() == 3);
  std::vector<std::string> keys;
  for (const kernel::Event& e : summaries) keys.push_back(str(e.payload.find("step_key")));
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"boss/wake:1/1/summary:1", "boss/wake:1/2/summary:1",
                                         "boss/wake:1/3/summary:1"});
  for (const char* line :
       {"MODEL slow step 1", "MODEL slow step 3", "MODEL slow", "MODEL quick", "MODEL nothing"})
    CHECK(lines(f, line) == 1);
  CHECK(lines(f, "replayed 1 false") == 1);
}

TEST_CASE("a failing child raises child_failed through the supervisor, summarised as failed",
          "[harness][supervisor][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = boss(f);
  SECTION("h:child") {
    host::RunOutcome failed =
        f.run(path, "sup-3", json(R"({"one": {"run_id": "kid", "input": {"fail": true}}})"));
    REQUIRE(failed.status == RunStatus::kFailed);
    CHECK(str(failed.error.find("kind")) == "child_failed");
    CHECK_THAT(str(failed.error.find("message")),
               Catch::Contains("kid") && Catch::Contains("the child gave up"));
    CHECK(child_summaries(f, "sup-3") == std::vector<std::string>{child_summary("kid", "failed")});
    CHECK(f.kernel_host.store->run_info(RunId("kid"))->status == RunStatus::kFailed);
    const auto sleeps = summaries_of(f, "sup-3", "harness_sleep");
    REQUIRE(sleeps.size() == 1);
    CHECK(str(value_of(sleeps[0]).find("status")) == "failed");
    const auto failures = summaries_of(f, "sup-3", "harness_failed");
    REQUIRE(failures.size() == 1);
    CHECK(str(value_of(failures[0]).find("error")->find("kind")) == "child_failed");
  }
  SECTION("h:children, the failing child's run named by the step that started it") {
    host::RunOutcome failed = f.run(path, "sup-4", json(R"({"children": [
        {"script": "worker.lua", "opts": {"input": {"task": "fine"}}},
        {"script": "worker.lua", "opts": {"input": {"fail": true}}}]})"));
    REQUIRE(failed.status == RunStatus::kFailed);
    CHECK(str(failed.error.find("kind")) == "child_failed");
    std::string fine, broken;
    for (const kernel::Event& e : f.events("sup-4")) {
      if (e.type != "child_completed") continue;
      (str(e.payload.find("status")) == "failed" ? broken : fine) =
          str(e.payload.find("child_run_id"));
    }
    REQUIRE(!fine.empty());
    REQUIRE(!broken.empty());
    std::vector<std::string> got = child_summaries(f, "sup-4");
    std::sort(got.begin(), got.end());
    std::vector<std::string> expected = {child_summary(fine, "completed"),
                                         child_summary(broken, "failed")};
    std::sort(expected.begin(), expected.end());
    CHECK(got == expected);
    CHECK(f.kernel_host.store->run_info(RunId(fine))->status == RunStatus::kCompleted);
    CHECK(lines(f, "MODEL fine") == 1);
    CHECK(summaries_of(f, "sup-4", "harness_failed").size() == 1);
  }
}

TEST_CASE("a supervisor's child may have fewer capabilities, never more: no run for that",
          "[harness][supervisor][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = boss(f);
  const host::RunOptions options = with_caps({"deploy:write", "notes:write"});
  SECTION("a narrower child runs with what it was given") {
    host::RunOutcome done = f.run(
        path, "sup-5",
        json(R"({"one": {"run_id": "narrow", "caps": ["notes:write"], "input": {"task": "n"}}})"),
        options);
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    CHECK(str(done.output.find("text")) == "done: n");
    auto child = f.kernel_host.kernel->run_record(kernel::TenantId("acme"), RunId("narrow"));
    REQUIRE(child.ok());
    CHECK(child->tenant.capabilities == std::vector<std::string>{"notes:write"});
    CHECK(child_summaries(f, "sup-5") ==
          std::vector<std::string>{child_summary("narrow", "completed")});
  }
  SECTION("caps = {} is a child with no capability at all") {
    host::RunOutcome done =
        f.run(path, "sup-10", json(R"({"one": {"run_id": "bare", "caps": []}})"), options);
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    auto child = f.kernel_host.kernel->run_record(kernel::TenantId("acme"), RunId("bare"));
    REQUIRE(child.ok());
    CHECK(child->tenant.capabilities.empty());
  }
  SECTION("by default a child has the supervisor's capabilities") {
    host::RunOutcome done = f.run(path, "sup-6", json(R"({"one": {"run_id": "same"}})"), options);
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    auto child = f.kernel_host.kernel->run_record(kernel::TenantId("acme"), RunId("same"));
    REQUIRE(child.ok());
    CHECK(child->tenant.capabilities == std::vector<std::string>{"deploy:write", "notes:write"});
  }
  SECTION("a wider child is refused before it has a run") {
    host::RunOutcome refused =
        f.run(path, "sup-7",
              json(R"({"one": {"run_id": "wide", "caps": ["notes:write", "exec:run"]}})"), options);
    // Waits for a grant (resume --grant) rather than failing for good.
    REQUIRE(refused.status == RunStatus::kNeedsAttention);
    CHECK(str(refused.error.find("kind")) == "capability_denied");
    CHECK_THAT(str(refused.error.find("message")), Catch::Contains("exec:run"));
    CHECK_FALSE(run_exists(f, "wide"));
    CHECK(f.count("sup-7", "step_denied") == 1);
    CHECK(f.count("sup-7", "child_started") == 0);
    CHECK(child_summaries(f, "sup-7").empty());
    const auto failures = summaries_of(f, "sup-7", "harness_failed");
    REQUIRE(failures.size() == 1);
    CHECK(str(value_of(failures[0]).find("error")->find("kind")) == "capability_denied");
    CHECK(lines(f, "MODEL nothing") == 0);
  }
}

TEST_CASE("a paused child holds the supervisor, and resuming the child finishes both",
          "[harness][supervisor][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = boss(f);
  const Json input = json(R"({"children": [
      {"script": "worker.lua", "opts": {"run_id": "kid-p", "input": {"pause": true, "task": "after"}}},
      {"script": "worker.lua", "opts": {"run_id": "kid-q", "input": {"task": "beside"}}}]})");
  host::RunOutcome paused = f.run(path, "sup-8", input);
  INFO(text(paused.error));
  REQUIRE(paused.status == RunStatus::kPaused);
  CHECK(f.kernel_host.store->run_info(RunId("sup-8"))->status == RunStatus::kPaused);
  CHECK(f.kernel_host.store->run_info(RunId("kid-p"))->status == RunStatus::kPaused);
  CHECK(f.count("sup-8", "child_waiting") >= 1);
  CHECK(summaries_of(f, "sup-8", "harness_sleep").empty());  // the wake is not over
  CHECK(lines(f, "MODEL after") == 0);
  SECTION("in the same host") {
    REQUIRE(f.host->resume(RunId("kid-p"), Json("yes")).ok());
    host::RunOutcome done = f.drive("sup-8");
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    CHECK(str(done.output.as_array()[0].find("text")) == "done: after");
    CHECK(str(done.output.as_array()[1].find("text")) == "done: beside");
  }
  SECTION("in another process: the child resumed, then the supervisor run again") {
    f.restart(stdlib_options());
    REQUIRE(
        f.kernel_host.kernel->resume(kernel::TenantId("acme"), RunId("kid-p"), Json("yes")).ok());
    host::RunOutcome done = f.run(path, "sup-8", input);
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    CHECK(str(done.output.as_array()[0].find("text")) == "done: after");
    CHECK(str(done.output.as_array()[1].find("text")) == "done: beside");
  }
  CHECK(lines(f, "MODEL after") == 1);
  CHECK(lines(f, "MODEL beside") == 1);
  CHECK(f.count("kid-p", "run_started") == 1);
  CHECK(f.count("kid-q", "run_started") == 1);
  CHECK(f.count("sup-8", "child_started") == 2);
  CHECK(f.count("sup-8", "child_completed") == 2);
  std::vector<std::string> got = child_summaries(f, "sup-8");
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{child_summary("kid-p", "completed"),
                                        child_summary("kid-q", "completed")});
  const auto sleeps = summaries_of(f, "sup-8", "harness_sleep");
  REQUIRE(sleeps.size() == 1);
  CHECK(str(value_of(sleeps[0]).find("status")) == "done");
}

// An operator cancels the paused child itself: the supervisor, executed again, finds it
// ended and raises child_failed, summarised as cancelled (not failed).
TEST_CASE("a child cancelled while it holds the supervisor is summarised as cancelled",
          "[harness][supervisor][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = boss(f);
  const Json input = json(R"({"one": {"run_id": "kid-c", "input": {"pause": true}}})");
  host::RunOutcome paused = f.run(path, "sup-11", input);
  INFO(text(paused.error));
  REQUIRE(paused.status == RunStatus::kPaused);
  f.restart(stdlib_options());
  auto cancelled = f.kernel_host.kernel->cancel(kernel::TenantId("acme"), RunId("kid-c"), "no");
  REQUIRE(cancelled.ok());
  REQUIRE(f.kernel_host.kernel->resume(kernel::TenantId("acme"), RunId("sup-11"), Json()).ok());
  host::RunOutcome failed = f.run(path, "sup-11", input);
  INFO(text(failed.error));
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(str(failed.error.find("kind")) == "child_failed");
  CHECK_THAT(str(failed.error.find("message")), Catch::Contains("kid-c"));
  CHECK(child_summaries(f, "sup-11") ==
        std::vector<std::string>{child_summary("kid-c", "cancelled")});
  CHECK(f.kernel_host.store->run_info(RunId("kid-c"))->status == RunStatus::kCancelled);
  CHECK(f.count("kid-c", "run_started") == 1);
  CHECK(lines(f, "MODEL nothing") == 0);
}

TEST_CASE("a completed supervisor run executed again replays its children without running them",
          "[harness][supervisor][stdlib]") {
  HostFixture f(stdlib_options());
  const std::string path = boss(f);
  const Json input = json(R"({"children": [
      {"script": "worker.lua", "opts": {"run_id": "kid-a", "input": {"task": "a"}}},
      {"script": "worker.lua", "opts": {"run_id": "kid-b", "input": {"task": "b", "steps": 1}}}]})");
  host::RunOutcome done = f.run(path, "sup-9", input);
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(lines(f, "replayed 1 false") == 1);
  const size_t events = f.events("sup-9").size();
  const size_t a_events = f.events("kid-a").size();
  const size_t b_events = f.events("kid-b").size();

  f.restart(stdlib_options());  // another process: everything re-executes from the top
  f.printed.clear();
  host::RunOutcome again = f.run(path, "sup-9", input);
  INFO(text(again.error));
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) == text(done.output));
  CHECK(f.printed == std::vector<std::string>{"replayed 1 true", "replayed 2 true"});
  CHECK(f.events("sup-9").size() == events);
  CHECK(f.events("kid-a").size() == a_events);
  CHECK(f.events("kid-b").size() == b_events);
  CHECK(f.count("kid-a", "run_started") == 1);
  CHECK(f.count("kid-b", "run_started") == 1);
}

TEST_CASE("a supervisor refuses a malformed list of children before starting any",
          "[stdlib][harness]") {
  // Only what is checked before run:child is called.
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

}  // namespace
}  // namespace artana::testing
