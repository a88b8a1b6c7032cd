// Errors whose text is not valid UTF-8, or holds a NUL, are recorded readable (invalid bytes
// as U+FFFD, NUL as "\0"): once such a message made the run's end unrecordable (the run
// stayed `running` and a worker re-executed it forever) and a port's or tool's failure was
// taken for a process that stopped during the call.
#include <catch2/catch.hpp>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

// The "message" of the error in the first event of `type`, or "" without one.
std::string recorded_message(HostFixture& f, const std::string& run, const std::string& type) {
  for (const kernel::Event& event : f.events(run)) {
    if (event.type != type) continue;
    const Json* error = event.payload.find("error");
    const Json* message = error != nullptr ? error->find("message") : nullptr;
    if (message == nullptr) message = event.payload.find("message");
    if (message != nullptr && message->is_string()) return message->as_string();
  }
  return "";
}

const char kReplacement[] = "\xEF\xBF\xBD";

TEST_CASE("errors that are not valid UTF-8 are recorded readable and end the run", "[host][utf8]") {
  HostFixture f;
  const std::string path = f.script("bad_bytes.lua", R"lua(local artana = require "artana"
artana.model_port("m", function(req) error("port \255 failed") end)
artana.tool { name = "lookup", args = {}, fn = function(args) error("lookup \254\0tail") end }
artana.tool { name = "charge", side_effect = true, args = {},
              fn = function(args, ctx) error("charge \192 lost") end }
return function(run, input)
  if input.step == "model" then return run:model { model = "m", prompt = "p" } end
  if input.step == "lookup" then return run:tool("lookup", {}) end
  if input.step == "charge" then return run:tool("charge", {}) end
  error("entry \255bad\0nul")
end
)lua");

  SECTION("the entry's error") {
    host::RunOutcome outcome = f.run(path, "run-entry");
    REQUIRE(outcome.status == RunStatus::kFailed);
    const std::string message = recorded_message(f, "run-entry", "run_failed");
    CHECK(message.find(std::string("entry ") + kReplacement + "bad\\0nul") != std::string::npos);
    CHECK(outcome.error.find("message")->as_string().find("\\0nul") != std::string::npos);
  }
  SECTION("a model port's error is the step's recorded failure, live and in a new process") {
    host::RunOutcome outcome = f.run(path, "run-model", Json::object({{"step", "model"}}));
    INFO(text(outcome.error));
    REQUIRE(outcome.status == RunStatus::kFailed);
    CHECK(outcome.error.find("kind")->as_string() == "model_failed");
    CHECK(recorded_message(f, "run-model", "model_failed").find(kReplacement) != std::string::npos);
    f.restart();
    host::RunOutcome again = f.run(path, "run-model", Json::object({{"step", "model"}}));
    CHECK(again.error.find("kind")->as_string() == "model_failed");
    CHECK(f.count("run-model", "model_requested") == 1);
  }
  SECTION("a read-only tool's error is recorded with its text") {
    host::RunOutcome outcome = f.run(path, "run-lookup", Json::object({{"step", "lookup"}}));
    REQUIRE(outcome.status == RunStatus::kFailed);
    CHECK(outcome.error.find("kind")->as_string() == "tool_failed");
    const std::string message = text(outcome.error);
    CHECK(message.find("\\\\0tail") != std::string::npos);
    CHECK(f.count("run-lookup", "tool_requested") == 1);
  }
  SECTION("a side-effecting tool's error halts for reconciliation with its text recorded") {
    host::RunOutcome outcome = f.run(path, "run-charge", Json::object({{"step", "charge"}}));
    REQUIRE(outcome.status == RunStatus::kNeedsAttention);
    bool recorded = false;
    for (const kernel::Event& event : f.events("run-charge")) {
      if (event.type == "tool_completed") {
        recorded = text(event.payload).find("charge " + std::string(kReplacement) + " lost") !=
                   std::string::npos;
      }
    }
    CHECK(recorded);
  }
  auto report = f.kernel_host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

}  // namespace
}  // namespace artana::testing
