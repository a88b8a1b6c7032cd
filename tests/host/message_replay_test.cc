// A conversation replayed: the messages a script passes as tables are hashed straight from
// the tables on a replayed step (kernel::ModelRequest::messages_source), and built when a
// value is needed (a live call, a drift report, a middleware that rewrites values).
#include <catch2/catch.hpp>

#include "artana/host/run_request.h"
#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

// Three turns of a growing history, then a pause: the port prints each call it gets. `ask`
// and `replay` are written into the script (a run's input is its recorded one).
std::string conversation(const std::string& ask, const std::string& replay = "strict") {
  return R"lua(local artana = require "artana"
artana.model_port("m", function(req)
  print("call " .. req.step_key .. " with " .. #req.messages .. " messages")
  return { output = { text = "re: " .. req.messages[#req.messages].content },
           usage = { cost_usd = 0.001 } }
end)
return function(run)
  local history = { { role = "system", content = "Be brief.", meta = { b = 2, a = { 1.5, true } } } }
  for i = 1, 3 do
    history[#history + 1] = { role = "user", content = ")lua" +
         ask + R"lua( " .. i .. ", mail bob@example.com" }
    local r = run:model { model = "m", messages = history, replay = ")lua" +
         replay + R"lua(" }
    history[#history + 1] = { role = "assistant", content = r.output.text }
  end
  run:pause("hold")
  return history[#history].content
end
)lua";
}

std::vector<Json> drifts(HostFixture& f, const std::string& run) {
  std::vector<Json> out;
  for (const kernel::Event& event : f.events(run))
    if (event.type == "replayed_with_drift") out.push_back(event.payload);
  return out;
}

TEST_CASE(
    "a conversation's messages replay from their tables without drift, and an edited one drifts "
    "naming messages",
    "[host]") {
  HostFixture f;
  const std::string path = f.script("talk.lua", conversation("price of"));
  REQUIRE(f.run(path, "run-talk").status == RunStatus::kPaused);
  CHECK(f.printed == std::vector<std::string>{"call model:1 with 2 messages",
                                              "call model:2 with 4 messages",
                                              "call model:3 with 6 messages"});
  // Another process replays the three turns from the ledger: same hashes, no call.
  f.restart();
  f.printed.clear();
  REQUIRE(f.run(path, "run-talk").status == RunStatus::kPaused);
  CHECK(f.printed.empty());
  CHECK(drifts(f, "run-talk").empty());
  CHECK(f.count("run-talk", "model_requested") == 3);

  // Edited asks, drift allowed: each turn replays its recorded answer and the drift names
  // the messages (the request built from the tables only to report it).
  f.restart();
  const std::string allowed = f.script("talk2.lua", conversation("cost of", "allow_prompt_drift"));
  REQUIRE(f.run(allowed, "run-talk").status == RunStatus::kPaused);
  CHECK(f.printed.empty());
  const std::vector<Json> noted = drifts(f, "run-talk");
  REQUIRE(noted.size() == 3);
  for (const Json& drift : noted) CHECK(text(*drift.find("drift_fields")) == R"(["messages"])");

  // Under the strict policy the same edit halts at the first turn.
  f.restart();
  const std::string strict = f.script("talk3.lua", conversation("cost of"));
  const host::RunOutcome halted = f.run(strict, "run-talk");
  REQUIRE(halted.status == RunStatus::kNeedsAttention);
  CHECK(halted.error.find("kind")->as_string() == "replay_drift");
  CHECK(halted.error.find("step_key")->as_string() == "model:1");
}

TEST_CASE("a value-rewriting middleware sees messages built from the tables, live and replayed",
          "[host]") {
  // Enforced policy: the PII scrubber rewrites every string of a request, so a replayed step
  // builds its messages, scrubs them and hashes what was recorded.
  HostFixture f;
  f.restart({}, host::policy_kernel_options(true));
  const std::string path = f.script("talk.lua", conversation("price of"));
  const host::RunOutcome live = f.run(path, "run-scrubbed");
  INFO(text(live.error));
  REQUIRE(live.status == RunStatus::kPaused);
  CHECK(f.printed.size() == 3);
  bool scrubbed = false;
  for (const kernel::Event& event : f.events("run-scrubbed")) {
    if (event.type != "model_requested") continue;
    const std::string request = text(event.payload);
    CHECK(request.find("bob@example.com") == std::string::npos);
    scrubbed = scrubbed || request.find("[EMAIL_1]") != std::string::npos;
  }
  CHECK(scrubbed);
  f.restart({}, host::policy_kernel_options(true));
  f.printed.clear();
  REQUIRE(f.run(path, "run-scrubbed").status == RunStatus::kPaused);
  CHECK(f.printed.empty());
  CHECK(drifts(f, "run-scrubbed").empty());
}

}  // namespace
}  // namespace artana::testing
