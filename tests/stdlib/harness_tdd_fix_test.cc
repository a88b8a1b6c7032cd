// samples/tdd_fix through the CLI, on a copy of its workspace whose check.sh also counts its
// runs (sample_cli.h): the first fix fails the check, the second passes and the unit is done;
// and the run killed at each crossing of each fault point its process passes (every syscall,
// every append, before and after it commits), then run again — an operator retrying a side
// effect the kill cut (a file write or the check, requested and never completed):
// the same output, the workspace fixed, the check run once per recorded verification (once
// more only for a check the kill cut after it ran), each fixer call once (once more only for
// one whose answer the kill lost), the done unit never worked on again.
//
// The built-in tools (run:exec, run:write_file, run:read_file) cross no tool.start or
// tool.end point (those are a Lua tool's): the append points are where a kill cuts them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "stdlib/harness_helpers.h"

namespace artana::testing {
namespace {

using namespace harness_testing;
using sample_cli::copy_tdd_fix_workspace;
using sample_cli::cut_side_effects;
using sample_cli::models_completed;
using sample_cli::read_text;
using sample_cli::tdd_check_runs;
using sample_cli::tool_of;
using sample_cli::tools_completed;

const char kFixed[] =
    R"({"done":1,"failed":0,"units":[{"attempts":1,"description":)"
    R"("src/add.sh must print the sum of its two arguments","id":"fix_add","state":"done"}]})";

const std::vector<std::string> kVerifications = {
    R"({"attempt":1,"exit_code":1,"passed":false,"unit":"fix_add"})",
    R"({"attempt":2,"exit_code":0,"passed":true,"unit":"fix_add"})"};

// The unit's moves: attempt 1 fails, attempt 2 is done — once, never worked on again.
const std::vector<std::string> kProgress = {"task/fix_add/in_progress/1", "task/fix_add/pending/1",
                                            "task/fix_add/in_progress/2", "task/fix_add/done/2"};

// Run fix-1 of tdd_fix on a ledger and a copy of the workspace of its own.
struct FixRun {
  Cli cli;
  std::filesystem::path workspace = cli.dir() / "workspace";
  std::string run = "--json run " + sample("tdd_fix/tdd_fix.lua") + " --run-id fix-1 --workspace " +
                    workspace.string() + " --caps exec:run,workspace:read,workspace:write";
  FixRun() { copy_tdd_fix_workspace(workspace); }
};

// The task_progress keys of fix-1, in order.
std::vector<std::string> progress(const std::vector<Json>& events) {
  std::vector<std::string> keys;
  for (const Json& e : events) {
    const Json& payload = *e.find("payload");
    if (str(e.find("type")) == "run_summary" && str(payload.find("kind")) == "task_progress")
      keys.push_back(str(payload.find("key")));
  }
  return keys;
}

// `done` ended fix-1 fixed: a fix multiplying, then one adding (plus `lost_calls` asked again
// because a kill lost their answers), the check run twice (plus `lost_checks` that ran and
// were cut), one verification per attempt, the unit done once.
void check_fixed(FixRun& fix, const CliRun& done, size_t lost_calls = 0, size_t lost_checks = 0) {
  INFO(fix.cli.printed());
  REQUIRE(done.exit_code == 0);
  CHECK(text(*result_of(done).find("output")) == kFixed);
  CHECK_THAT(read_text(fix.workspace / "src/add.sh"), Catch::Contains("echo $(( $1 + $2 ))"));
  const size_t times = occurrences(fix.cli.printed(), "fixer proposes: $1 * $2\n");
  const size_t plus = occurrences(fix.cli.printed(), "fixer proposes: $1 + $2\n");
  CHECK(times >= 1);
  CHECK(plus >= 1);
  CHECK(times + plus == 2 + lost_calls);
  CHECK(tdd_check_runs(fix.workspace) == 2 + lost_checks);
  const std::vector<Json> events = exported(fix.cli, "fix-1");
  CHECK(summary_values(events, "verification") == kVerifications);
  CHECK(progress(events) == kProgress);
  CHECK(fix.cli("ledger verify fix-1").exit_code == 0);
}

TEST_CASE("tdd_fix: the first fix fails the check, the second passes and is done",
          "[stdlib][harness]") {
  FixRun fix;
  CliRun fixed = fix.cli(fix.run);
  check_fixed(fix, fixed);
  const std::vector<Json> events = exported(fix.cli, "fix-1");
  CHECK(summary_values(events, "artifact::last_failure/fix_add") ==
        std::vector<std::string>{R"("FAIL: add 2 3: expected 5, got 6\n")"});

  // Run again: everything replays, nothing is asked, written or checked again.
  std::filesystem::remove(fix.workspace / "src/add.sh");
  CliRun again = fix.cli(fix.run);
  REQUIRE(again.exit_code == 0);
  CHECK(text(*result_of(again).find("output")) == kFixed);
  CHECK(occurrences(again.err, "fixer proposes") == 0);
  CHECK_FALSE(std::filesystem::exists(fix.workspace / "src/add.sh"));
  CHECK(tdd_check_runs(fix.workspace) == 2);
  CHECK(exported(fix.cli, "fix-1").size() == events.size());
}

// fix-1 killed with `crash`, then run again until it ends: a run that halts on a side effect
// the kill cut is retried by an operator (`reconcile --retry`), as docs/kernel.md says. What
// the kill lost is read off the ledger as the killed process left it: a fixer call whose
// answer is not recorded is asked again, a check that ran and is not recorded runs again,
// nothing recorded is redone. Returns whether the process was killed.
bool killed_then_fixed(const Env& crash, bool at_syscall) {
  FixRun fix;
  const CliRun killed = fix.cli(fix.run, crash);
  if (killed.exit_code != kKilled) {
    check_fixed(fix, killed);
    return false;
  }
  const std::vector<Json> left = exported(fix.cli, "fix-1", /*may_be_missing=*/true);
  const size_t lost_calls =
      occurrences(killed.err, "fixer proposes") - models_completed(left, "fixer");
  const size_t lost_checks = tdd_check_runs(fix.workspace) - tools_completed(left, "artana.exec");
  const std::vector<std::string> cut = cut_side_effects(left);
  CHECK(lost_calls <= 1);
  CHECK(lost_checks <= 1);
  CHECK(cut.size() <= 1);
  if (at_syscall) {
    // The script is one task: when it makes a syscall, no call of its own is in flight.
    CHECK(lost_calls == 0);
    CHECK(lost_checks == 0);
    CHECK(cut.empty());
  }
  CliRun done = fix.cli(fix.run);
  INFO(done.out << done.err);
  // A halt exactly when a side effect was cut — a read cut the same way simply runs again.
  CHECK((done.exit_code == 4) == !cut.empty());
  if (done.exit_code == 4) {
    const sample_cli::CutStep halted = cut_step(*result_of(done).find("error"));
    CHECK(halted.run == "fix-1");
    REQUIRE(cut.size() == 1);
    CHECK(halted.step == cut[0]);
    const std::string tool = tool_of(left, halted.step);
    CHECK((tool == "artana.exec" || tool == "artana.write_file"));
    // Only the check leaves a trace of having run: a cut write may have written or not.
    if (tool != "artana.exec") CHECK(lost_checks == 0);
    REQUIRE(fix.cli("reconcile fix-1 --step " + halted.step + " --retry").exit_code == 0);
    done = fix.cli(fix.run);
  }
  check_fixed(fix, done, lost_calls, lost_checks);
  return true;
}

TEST_CASE("tdd_fix: killed at any syscall, run again, the unit is fixed once",
          "[stdlib][harness]") {
  const int kills = kill_at_each_crossing(
      "syscall", [](const Env& crash) { return killed_then_fixed(crash, true); });
  CHECK(kills + kCrossingStride > 30);  // the fix crosses more syscalls than that: kills did happen
}

TEST_CASE("tdd_fix: killed before any append, run again (a cut effect retried), fixed once",
          "[stdlib][harness]") {
  const int kills = kill_at_each_crossing(
      "append.before", [](const Env& crash) { return killed_then_fixed(crash, false); });
  CHECK(kills + kCrossingStride > 30);
}

TEST_CASE("tdd_fix: killed after any append, run again (a cut effect retried), fixed once",
          "[stdlib][harness]") {
  const int kills = kill_at_each_crossing(
      "append.after", [](const Env& crash) { return killed_then_fixed(crash, false); });
  CHECK(kills + kCrossingStride > 30);
}

}  // namespace
}  // namespace artana::testing
