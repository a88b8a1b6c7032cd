// A hot reload's new execution takes its run's lua_State from the old execution when that one
// runs no Lua any more (StatePool::reuse): it must start as clean as in a new state — its
// own artana module, tools, ports and loaded modules — and replay and adopt as ever.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "artana/host/native_calls.h"
#include "host/host_fixture.h"

using namespace artana;
using namespace artana::testing;

namespace {

// Ticks until nothing is ready (the run waits for the application's answer).
void settle(HostFixture& f) {
  while (!f.host->idle()) f.host->tick(std::chrono::milliseconds(50));
}

void answer(uint64_t token, const std::string& text) {
  host::NativeReply reply;
  reply.value = kernel::Json::object({{"output", kernel::Json::object({{"text", text}})}});
  REQUIRE(host::complete_native(token, std::move(reply)) == host::CompleteResult::kDone);
}

// What an execution changes in its module and in a module it requires, counted at the top
// level: a state that kept the last execution's would count 2.
std::string marking_script(const std::string& tool) {
  return R"lua(local artana = require "artana"
local counter = require "counter"
counter.uses = (counter.uses or 0) + 1
artana.marks = (artana.marks or 0) + 1
artana.tool { name = ")lua" +
         tool + R"lua(", fn = function(args) return args end }
return function(run)
  local first = run:model { model = "brain", prompt = "one" }.output.text
  local second = run:model { model = "brain", prompt = "two" }.output.text
  return { uses = counter.uses, marks = artana.marks, said = first .. "," .. second }
end
)lua";
}

TEST_CASE("a reload reuses the old execution's state, and the new one starts clean",
          "[host][reload]") {
  HostFixture f;
  std::vector<uint64_t> tokens;
  REQUIRE(f.host
              ->add_native_port("brain", [&tokens](const host::NativeCall&,
                                                   uint64_t token) { tokens.push_back(token); })
              .ok());
  f.script("counter.lua", "return { loads = 1 }\n");
  const std::string path = f.script("marks.lua", marking_script("note"));
  REQUIRE(f.host->start(path, acme_run("run-reuse")).ok());
  settle(f);
  REQUIRE(tokens.size() == 1);
  answer(tokens[0], "a");
  settle(f);
  REQUIRE(tokens.size() == 2);  // the second call is in flight

  // New code (another tool's name) while the second call is in flight: the old execution
  // drains, its state goes to the new one, which replays the first step and adopts the call.
  f.script("marks.lua", marking_script("jot"));
  REQUIRE(f.host->reload(kernel::RunId("run-reuse")).ok());
  settle(f);
  CHECK(f.host->states_reused() == 1);
  CHECK(tokens.size() == 2);  // adopted: not asked again
  answer(tokens[1], "b");
  host::RunOutcome outcome = f.drive("run-reuse");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
  CHECK(text(outcome.output) == R"({"marks":1,"said":"a,b","uses":1})");
  CHECK(f.count("run-reuse", "model_requested") == 2);
  CHECK(f.count("run-reuse", "model_completed") == 2);

  // Reloaded again, ended: nothing restarts, and a new process replays it alike.
  f.restart();
  host::RunOutcome again = f.run(path, "run-reuse");
  CHECK(text(again.output) == R"({"marks":1,"said":"a,b","uses":1})");
}

TEST_CASE("a reload while a Lua model port answers keeps that state for the port",
          "[host][reload]") {
  HostFixture f;
  // The port runs in the old execution's state until it returns: the new one gets its own.
  const std::string path = f.script("slow.lua", R"lua(local artana = require "artana"
artana.model_port("m", function(req)
  print("call")
  local n = 0
  for i = 1, 3e6 do n = n + 1 end
  return { output = n }
end)
return function(run)
  return run:model { model = "m", prompt = "p" }.output
end
)lua");
  REQUIRE(f.host->start(path, acme_run("run-port")).ok());
  for (int t = 0; t < 100 && f.host->kernel().stats().pending_steps == 0; ++t)
    f.host->tick(std::chrono::microseconds(0));
  REQUIRE(f.host->kernel().stats().pending_steps == 1);
  REQUIRE(f.host->reload(kernel::RunId("run-port")).ok());
  host::RunOutcome outcome = f.drive("run-port");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
  CHECK(outcome.output.as_integer() == 3'000'000);
  CHECK(f.host->states_reused() == 0);
  CHECK(std::count(f.printed.begin(), f.printed.end(), "call") == 1);
  CHECK(f.count("run-port", "model_requested") == 1);
}

}  // namespace
