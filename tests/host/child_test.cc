// run:child: a child run as a step — started and recorded once, replayed, judged before it
// runs (capabilities, budget, depth), and holding its parent while it is paused or sleeping.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunId;
using kernel::RunStatus;

const char kWorker[] = R"lua(
local artana = require "artana"
artana.model_port("m", function(req)
  print("MODEL " .. req.prompt)
  return { output = { text = "done: " .. req.prompt } }
end)
return function(run, input)
  if input.fail then error({ kind = "permanent_error", message = "the child gave up" }) end
  if input.pause then run:pause("ask", {}) end
  if input.sleep then run:sleep(input.sleep) end
  local r = run:model { model = "m", prompt = input.task or "nothing" }
  return { text = r.output.text }
end
)lua";

size_t printed_count(const HostFixture& f, const std::string& prefix) {
  size_t n = 0;
  for (const std::string& line : f.printed) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

bool run_exists(HostFixture& f, const std::string& id) {
  return f.kernel_host.store->run_info(RunId(id)).ok();
}

TEST_CASE("run:child runs a child run once and replays its completion", "[host][child]") {
  HostFixture f;
  f.script("worker.lua", kWorker);
  const std::string parent = f.script("parent.lua", R"lua(
return function(run)
  local c = run:child("worker.lua", { input = { task = "t1" } })
  return { text = c.output.text, status = c.status, run_id = c.run_id, replayed = c.replayed }
end
)lua");
  host::RunOutcome outcome = f.run(parent, "p1");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("text")->as_string() == "done: t1");
  CHECK(outcome.output.find("status")->as_string() == "completed");
  CHECK(outcome.output.find("run_id")->as_string() == "p1::child::child:1");
  CHECK_FALSE(outcome.output.find("replayed")->as_bool());
  CHECK(f.count("p1", "child_started") == 1);
  CHECK(f.count("p1", "child_completed") == 1);
  auto child = f.kernel_host.store->run_info(RunId("p1::child::child:1"));
  REQUIRE(child.ok());
  CHECK(child->status == RunStatus::kCompleted);
  REQUIRE(child->header.parent_run_id);
  CHECK(child->header.parent_run_id->str() == "p1");
  CHECK(printed_count(f, "MODEL") == 1);

  f.restart();  // another process: the completed parent replays; the child is not executed
  host::RunOutcome again = f.run(parent, "p1");
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(printed_count(f, "MODEL") == 1);
  CHECK(f.count("p1", "child_started") == 1);
  CHECK(f.count("p1::child::child:1", "run_started") == 1);
}

TEST_CASE("a failed child raises child_failed in its parent", "[host][child]") {
  HostFixture f;
  f.script("worker.lua", kWorker);
  const std::string parent = f.script("parent.lua", R"lua(
return function(run)
  local ok, err = pcall(run.child, run, "worker.lua", { input = { fail = true }, run_id = "kid" })
  return { kind = err.kind, message = err.message }
end
)lua");
  host::RunOutcome outcome = f.run(parent, "p2");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("kind")->as_string() == "child_failed");
  CHECK_THAT(outcome.output.find("message")->as_string(),
             Catch::Contains("kid") && Catch::Contains("the child gave up"));
  CHECK(f.kernel_host.store->run_info(RunId("kid"))->status == RunStatus::kFailed);
  bool failed_recorded = false;
  for (const kernel::Event& e : f.events("p2")) {
    if (e.type == "child_completed")
      failed_recorded = e.payload.find("status")->as_string() == "failed";
  }
  CHECK(failed_recorded);
}

TEST_CASE("a child gets at most its parent's capabilities and budget, and no run otherwise",
          "[host][child]") {
  HostFixture f;
  f.script("worker.lua", kWorker);
  const std::string parent = f.script("parent.lua", R"lua(
return function(run, input)
  local ok, err = pcall(run.child, run, "worker.lua", input.options)
  return { ok = ok, kind = (not ok) and err.kind or nil, message = (not ok) and err.message or nil }
end
)lua");
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.tenant.capabilities = {"files:read"};
  options.tenant.budget_micro_usd = 1'000'000;
  SECTION("an extra capability is refused and audited") {
    host::RunOutcome outcome = f.run(
        parent, "p3",
        Json::object({{"options", Json::object({{"caps", Json::array({Json("exec:run")})}})}}),
        options);
    REQUIRE(outcome.status == RunStatus::kCompleted);
    CHECK(outcome.output.find("kind")->as_string() == "capability_denied");
    CHECK_THAT(outcome.output.find("message")->as_string(), Catch::Contains("exec:run"));
    CHECK(f.count("p3", "step_denied") == 1);
    CHECK(f.count("p3", "child_started") == 0);
    CHECK_FALSE(run_exists(f, "p3::child::child:1"));
  }
  SECTION("a budget over the remainder halts the parent") {
    host::RunOutcome outcome = f.run(
        parent, "p4", Json::object({{"options", Json::object({{"budget_usd", 2.5}})}}), options);
    CHECK(outcome.status == RunStatus::kNeedsAttention);
    CHECK(outcome.error.find("kind")->as_string() == "budget_exceeded");
    CHECK_FALSE(run_exists(f, "p4::child::child:1"));
  }
  SECTION("by default the child has the parent's capabilities and what is left of its budget") {
    host::RunOutcome outcome =
        f.run(parent, "p5", Json::object({{"options", Json::object()}}), options);
    REQUIRE(outcome.status == RunStatus::kCompleted);
    CHECK(outcome.output.find("ok")->as_bool());
    auto child =
        f.kernel_host.kernel->run_record(kernel::TenantId("acme"), RunId("p5::child::child:1"));
    REQUIRE(child.ok());
    CHECK(child->tenant.capabilities == std::vector<std::string>{"files:read"});
    CHECK(child->tenant.budget_micro_usd == 1'000'000);
  }
}

TEST_CASE("a paused child holds its parent until the child is resumed", "[host][child]") {
  HostFixture f;
  f.script("worker.lua", kWorker);
  const std::string parent = f.script("parent.lua", R"lua(
return function(run)
  local c = run:child("worker.lua", { input = { pause = true, task = "after" }, run_id = "kid-p" })
  return c.output
end
)lua");
  host::RunOutcome outcome = f.run(parent, "p6");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kPaused);
  CHECK(f.count("p6", "child_waiting") == 1);
  // The parent is not what to resume: the refusal names the child.
  Status refused = f.kernel_host.kernel->resume(kernel::TenantId("acme"), RunId("p6"), Json());
  CHECK_THAT(refused.message(), Catch::Contains("kid-p"));
  SECTION("in the same host") {
    REQUIRE(f.host->resume(RunId("kid-p"), Json("yes")).ok());
    host::RunOutcome done = f.drive("p6");
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    CHECK(done.output.find("text")->as_string() == "done: after");
  }
  SECTION("in another process") {
    f.restart();
    REQUIRE(
        f.kernel_host.kernel->resume(kernel::TenantId("acme"), RunId("kid-p"), Json("yes")).ok());
    host::RunOutcome done = f.run(parent, "p6");
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
  }
  CHECK(f.count("p6", "child_completed") == 1);
  CHECK(f.count("kid-p", "run_started") == 1);
  CHECK(f.kernel_host.store->run_info(RunId("kid-p"))->status == RunStatus::kCompleted);
  CHECK(printed_count(f, "MODEL") == 1);
}

TEST_CASE("children run in parallel: one that completes leaves its parent held by one paused",
          "[host][child]") {
  HostFixture f;
  f.script("worker.lua", kWorker);
  const std::string parent = f.script("parent.lua", R"lua(
return function(run)
  local r = run:parallel {
    function() return run:child("worker.lua", { input = { pause = true, task = "a" }, run_id = "kid-a" }) end,
    function() return run:child("worker.lua", { input = { task = "b" }, run_id = "kid-b" }) end,
    function() return run:child("worker.lua", { input = { pause = true, task = "c" }, run_id = "kid-c" }) end,
  }
  return { r[1].output.text, r[2].output.text, r[3].output.text }
end
)lua");
  host::RunOutcome outcome = f.run(parent, "p9");
  INFO(text(outcome.error));
  // kid-b completed, kid-a and kid-c paused: the parent is held still, not running.
  REQUIRE(outcome.status == RunStatus::kPaused);
  CHECK(f.kernel_host.store->run_info(RunId("p9"))->status == RunStatus::kPaused);
  CHECK(f.kernel_host.store->run_info(RunId("kid-b"))->status == RunStatus::kCompleted);
  REQUIRE(f.host->resume(RunId("kid-c"), Json("yes")).ok());
  outcome = f.drive("p9");
  // kid-c done, kid-a still paused: held by kid-a, which is what a resume of the parent names.
  REQUIRE(outcome.status == RunStatus::kPaused);
  Status refused = f.kernel_host.kernel->resume(kernel::TenantId("acme"), RunId("p9"), Json());
  CHECK_THAT(refused.message(), Catch::Contains("kid-a"));
  f.restart();  // the last child resumed in another process
  REQUIRE(f.kernel_host.kernel->resume(kernel::TenantId("acme"), RunId("kid-a"), Json("yes")).ok());
  host::RunOutcome done = f.run(parent, "p9");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"(["done: a","done: b","done: c"])");
  for (const char* kid : {"kid-a", "kid-b", "kid-c"}) CHECK(f.count(kid, "run_started") == 1);
  CHECK(printed_count(f, "MODEL") == 3);
}

TEST_CASE("a sleeping child holds its parent until its timer is due", "[host][child]") {
  HostFixture f;
  f.script("worker.lua", kWorker);
  const std::string parent = f.script("parent.lua", R"lua(
return function(run)
  return run:child("worker.lua", { input = { sleep = 60, task = "woke" }, run_id = "kid-s" }).output
end
)lua");
  host::RunOutcome outcome = f.run(parent, "p7");
  REQUIRE(outcome.status == RunStatus::kSleeping);
  auto wake = f.kernel_host.kernel->wake_time(kernel::TenantId("acme"), RunId("p7"));
  REQUIRE(wake.ok());
  REQUIRE(*wake);
  CHECK(**wake == f.clock_us + 60'000'000);
  f.clock_us += 61'000'000;
  host::RunOutcome done = f.drive("p7");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("text")->as_string() == "done: woke");
  CHECK(f.count("kid-s", "run_started") == 1);
}

// --pinned executes a run under the code it recorded: its children too, whatever their
// files say now.
TEST_CASE("a pinned parent executes its started child under the child's recorded code",
          "[host][child]") {
  HostFixture f;
  const std::string worker = f.script("worker.lua", kWorker);
  const std::string parent = f.script("parent.lua", R"lua(
return function(run)
  return run:child("worker.lua", { input = { pause = true, task = "t" }, run_id = "kid-pin" }).output
end
)lua");
  host::RunOutcome paused = f.run(parent, "p11");
  REQUIRE(paused.status == RunStatus::kPaused);
  f.script("worker.lua", "return function(run) return { text = 'edited' } end\n");
  f.script("parent.lua", "return function(run) return 'edited parent' end\n");
  f.restart();
  REQUIRE(f.kernel_host.kernel->resume(kernel::TenantId("acme"), RunId("kid-pin"), Json("y")).ok());
  host::RunOptions pinned;
  pinned.pinned = true;
  host::RunOutcome done = f.run(parent, "p11", Json::object(), pinned);
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("text")->as_string() == "done: t");
  CHECK(printed_count(f, "MODEL") == 1);
}

TEST_CASE("run:child refuses a script outside the folder, bad options and depth over 8",
          "[host][child]") {
  HostFixture f;
  f.script("worker.lua", kWorker);
  f.script("nest.lua", R"lua(
return function(run, input)
  if input.depth == 0 then return "bottom" end
  return run:child("nest.lua", { input = { depth = input.depth - 1 } }).output
end
)lua");
  const std::string parent = f.script("parent.lua", R"lua(
local function kind_of(fn)
  local ok, err = pcall(fn)
  return ok and "ok" or err.kind
end
return function(run)
  return {
    kind_of(function() run:child("../worker.lua") end),
    kind_of(function() run:child("/etc/worker.lua") end),
    kind_of(function() run:child("leads_out.lua") end),
    kind_of(function() run:child("worker.lua", { cap = { "x" } }) end),
    kind_of(function() run:child("worker.lua", { caps = "x" }) end),
    kind_of(function() run:child("worker.lua", { budget_usd = -1 }) end),
    kind_of(function() run:child("nest.lua", { input = { depth = 9 } }) end),
    run:child("nest.lua", { input = { depth = 7 } }).output,
  }
end
)lua");
  // A symlink in the folder to a script outside it.
  const std::filesystem::path folder = std::filesystem::path(parent).parent_path();
  const std::filesystem::path outside =
      folder.parent_path() / (folder.filename().string() + "-out");
  std::filesystem::create_directories(outside);
  std::ofstream(outside / "worker.lua") << kWorker;
  std::filesystem::create_symlink(outside / "worker.lua", folder / "leads_out.lua");
  host::RunOutcome outcome = f.run(parent, "p8");
  std::filesystem::remove_all(outside);
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(f.count("p8", "child_started") == 2);  // the nests of depth 9 and 7: none refused
  CHECK(
      text(outcome.output) ==
      R"(["sandbox_violation","sandbox_violation","sandbox_violation","invalid_argument","invalid_argument",)"
      R"("invalid_argument","child_failed","bottom"])");
}

}  // namespace
}  // namespace artana::testing
