// samples/draft_verify_agent through the CLI: the gate refuses the first draft and the
// verifier accepts the fix; and the run killed at each crossing of each fault point its
// process passes (every syscall, append and tool point), then run again: the same answer,
// each model call and each run_tests call once — once more only for a call whose result the
// kill lost before it was recorded (run_tests has no side effect: nothing to reconcile).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "host/host_fixture.h"
#include "support/sample_cli.h"

namespace artana::testing {
namespace {

using kernel::Json;
using namespace sample_cli;

const char kAnswer[] = R"({"expression":"a + b","turns":2})";

std::string dva_run() {
  return "--json run " + sample("draft_verify_agent/draft_verify_agent.lua") + " --run-id dva-1";
}

// What the killed process's calls left unrecorded: each is called again.
struct Lost {
  size_t drafter = 0, verifier = 0, tests = 0;
};

// `done` ended dva-1 with the fixed answer: two drafts, two gates (the first refused), one
// verdict, each port and tool call once plus those `lost`.
void check_answered(Cli& cli, const CliRun& done, const Lost& lost = {}) {
  INFO(cli.printed());
  REQUIRE(done.exit_code == 0);
  CHECK(text(*result_of(done).find("output")) == kAnswer);
  const std::string& printed = cli.printed();
  CHECK(occurrences(printed, "drafter call: a - b\n") >= 1);
  CHECK(occurrences(printed,
                    "drafter call: a + b (after: Your answer was not accepted. Acceptance gate "
                    "'run_tests' failed: {\"failures\":[\"add(1, 2) = -1, want 3\"") >= 1);
  CHECK(occurrences(printed, "drafter call: ") == 2 + lost.drafter);
  CHECK(occurrences(printed, "verifier call: true\n") == 1 + lost.verifier);
  CHECK(occurrences(printed, "verifier call: ") == 1 + lost.verifier);
  CHECK(occurrences(printed, "run_tests call: a - b\n") >= 1);
  CHECK(occurrences(printed, "run_tests call: a + b\n") >= 1);
  CHECK(occurrences(printed, "run_tests call: ") == 2 + lost.tests);
  const std::vector<Json> events = exported(cli, "dva-1");
  CHECK(summary_values(events, "agent_acceptance_gate") ==
        std::vector<std::string>{R"({"agent":"coder","passed":false,"tool":"run_tests","turn":1})",
                                 R"({"agent":"coder","passed":true,"tool":"run_tests","turn":2})"});
  const std::vector<std::string> verdicts = summary_values(events, "agent_verify_step");
  REQUIRE(verdicts.size() == 1);
  CHECK_THAT(verdicts[0], Catch::Contains(R"("accepted":true)"));
  CHECK(cli("ledger verify dva-1").exit_code == 0);
}

TEST_CASE("draft_verify_agent: the gate refuses the first draft and the verifier accepts the fix",
          "[agent][stdlib][samples]") {
  Cli cli;
  CliRun first = cli(dva_run());
  check_answered(cli, first);
  const size_t recorded = exported(cli, "dva-1").size();

  // The same run id again: the whole loop replays from the ledger, nothing is called.
  CliRun again = cli(dva_run());
  REQUIRE(again.exit_code == 0);
  CHECK(text(*result_of(again).find("output")) == kAnswer);
  CHECK(occurrences(again.err, " call: ") == 0);
  CHECK(exported(cli, "dva-1").size() == recorded);
}

// dva-1 killed with `crash`, then run again: what the kill lost is read off the ledger as the
// killed process left it (a call it made whose completion is not recorded). Returns whether
// the process was killed.
bool killed_then_answered(const Env& crash, bool at_syscall) {
  Cli cli;
  const CliRun killed = cli(dva_run(), crash);
  if (killed.exit_code != kKilled) {
    check_answered(cli, killed);
    return false;
  }
  const std::vector<Json> left = exported(cli, "dva-1", /*may_be_missing=*/true);
  Lost lost;
  lost.drafter = occurrences(killed.err, "drafter call: ") - models_completed(left, "drafter");
  lost.verifier = occurrences(killed.err, "verifier call: ") - models_completed(left, "verifier");
  lost.tests = occurrences(killed.err, "run_tests call: ") - tools_completed(left, "run_tests");
  // The loop is one task: at most the call in flight is lost, none when it makes a syscall.
  CHECK(lost.drafter + lost.verifier + lost.tests <= (at_syscall ? 0u : 1u));
  CHECK(cut_side_effects(left).empty());
  const CliRun done = cli(dva_run());
  check_answered(cli, done, lost);
  return true;
}

TEST_CASE("draft_verify_agent: killed at any syscall, run again: the same answer, each call once",
          "[agent][stdlib][samples]") {
  const int kills = kill_at_each_crossing(
      "syscall", [](const Env& crash) { return killed_then_answered(crash, true); });
  CHECK(kills + kCrossingStride >
        10);  // the loop crosses more syscalls than that: kills did happen
}

TEST_CASE(
    "draft_verify_agent: killed at any append or tool point, run again: the same answer, each "
    "call once unless the kill lost its result",
    "[agent][stdlib][samples]") {
  for (const char* point : {"append.before", "append.after", "tool.start", "tool.end"}) {
    const int kills = kill_at_each_crossing(
        point, [](const Env& crash) { return killed_then_answered(crash, false); });
    INFO(point);
    // Every append of the loop; each of its two run_tests calls.
    CHECK(kills + kCrossingStride > (std::string(point).rfind("tool.", 0) == 0 ? 2 : 10));
  }
}

}  // namespace
}  // namespace artana::testing
