// The samples in samples/, run as a user runs them: the real `artana` CLI against a ledger
// in a temp dir, asserting exit codes, --json results, ledger events and printed lines.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json.h"
#include "artana/kernel/json_parse.h"
#include "support/run_cli.h"
#include "support/sample_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;
using Env = std::map<std::string, std::string>;

using sample_cli::Cli;
using sample_cli::result_of;
using sample_cli::sample;

std::string str(const Json& value, std::string_view key) {
  const Json* member = value.find(key);
  return member != nullptr && member->is_string() ? member->as_string() : "";
}

std::string text(const Json& value) {
  auto canonical = kernel::canonical_json(value);
  return canonical.ok() ? *canonical : "?";
}

// `artana ledger export RUN`: one parsed event per line.
std::vector<Json> events(Cli& cli, const std::string& run) {
  return sample_cli::exported(cli, run);
}

size_t count(const std::vector<Json>& events, const std::string& type) {
  size_t n = 0;
  for (const Json& event : events) n += str(event, "type") == type ? 1 : 0;
  return n;
}

TEST_CASE("chat: a second run with the same id replays every turn with no port call", "[samples]") {
  Cli cli;
  const std::string run =
      "run " + sample("chat/chat.lua") +
      " --run-id chat-1 --input '{\"questions\": [\"hello\", \"what is a ledger?\", \"thanks\"]}'";
  CliRun first = cli("--json " + run);
  REQUIRE(first.exit_code == 0);
  const Json output = *result_of(first).find("output");
  const Json& messages = *output.find("messages");
  REQUIRE(messages.size() == 7);  // system + 3 × (user, assistant)
  CHECK(str(messages.as_array()[6], "content") == "You said: thanks");
  CHECK(occurrences(first.err, "port call:") == 3);
  const std::vector<Json> before = events(cli, "chat-1");
  CHECK(count(before, "model_completed") == 3);

  CliRun again = cli("--json " + run);
  REQUIRE(again.exit_code == 0);
  CHECK(text(*result_of(again).find("output")) == text(output));
  CHECK(occurrences(again.err, "port call:") == 0);
  CHECK(events(cli, "chat-1").size() == before.size());
}

TEST_CASE(
    "enforced_step: the port sees the e-mail as a placeholder and the tool only with "
    "its capability",
    "[samples]") {
  Cli cli;
  const std::string run =
      "--json run " + sample("enforced_step/enforced_step.lua") +
      " --policy enforced --budget 1 --input '{\"email\": \"ada@example.com\"}'";

  CliRun granted = cli(run + " --run-id with-cap --caps crm:write");
  REQUIRE(granted.exit_code == 0);
  CHECK(text(*result_of(granted).find("output")) == R"({"notes":["follow-up sent"],"ok":true})");
  CHECK_THAT(granted.err, Catch::Contains("port received prompt: Send a follow-up to [EMAIL_1]") &&
                              Catch::Contains("port offered tools: [crm_note]") &&
                              !Catch::Contains("ada@example.com"));
  CHECK_THAT(cli("ledger export with-cap").out, !Catch::Contains("ada@example.com"));
  CHECK(count(events(cli, "with-cap"), "tool_completed") == 1);
  // The quota guard saw the cost the port reported.
  CHECK(result_of(cli("--json status with-cap")).find("spend_micro_usd")->as_integer() == 2000);

  CliRun denied = cli(run + " --run-id without-cap");
  REQUIRE(denied.exit_code == 0);
  CHECK(text(*result_of(denied).find("output")) == R"({"notes":[],"ok":true})");
  CHECK_THAT(denied.err, Catch::Contains("port offered tools: []"));
  CHECK(count(events(cli, "without-cap"), "tool_requested") == 0);
}

TEST_CASE("enforced_step: a spent budget halts with exit 5 until the operator raises it",
          "[samples]") {
  Cli cli;
  CliRun halted = cli("--json run " + sample("enforced_step/enforced_step.lua") +
                      " --policy enforced --budget 0 --run-id broke");
  REQUIRE(halted.exit_code == 5);
  CHECK(str(*result_of(halted).find("error"), "kind") == "budget_exceeded");
  CHECK(occurrences(halted.err, "port received prompt") == 0);

  CliRun raised = cli("--json resume broke --budget 1 --policy enforced");
  REQUIRE(raised.exit_code == 0);
  CHECK(str(result_of(raised), "status") == "completed");
  CHECK(occurrences(raised.err, "port received prompt") == 1);
}

TEST_CASE("debate: two agents alternate for the rounds asked and one of them calls a tool",
          "[samples]") {
  Cli cli;
  CliRun debate =
      cli("--json run " + sample("debate/debate.lua") +
          " --run-id debate-1 --input '{\"topic\": \"tabs beat spaces\", \"rounds\": 3}'");
  REQUIRE(debate.exit_code == 0);
  const Json output = *result_of(debate).find("output");
  const Json::Array& transcript = output.find("transcript")->as_array();
  REQUIRE(transcript.size() == 6);
  for (size_t i = 0; i < transcript.size(); ++i) {
    const bool con = i % 2 == 1;
    CHECK(str(transcript[i], "speaker") == (con ? "con" : "pro"));
    CHECK(str(transcript[i], "cites") == (con ? "Journal of Examples: tabs beat spaces" : ""));
  }
  CHECK(str(transcript[5], "text") == "con, turn 3: doubts that tabs beat spaces");
  const std::vector<Json> recorded = events(cli, "debate-1");
  CHECK(count(recorded, "model_completed") == 6);
  CHECK(count(recorded, "tool_completed") == 3);
}

// A copy of the fork_on_drift sample the test can edit, and the edit.
const char kPromptLine[] = "local PROMPT = \"Summarise the ledger in one line\"";
const char kEditedPromptLine[] = "local PROMPT = \"Summarise the ledger in one word\"";

struct EditableScript {
  TempDir dir;
  std::string path = (dir / "fork_on_drift.lua").string();
  EditableScript() { std::filesystem::copy_file(sample("fork_on_drift/fork_on_drift.lua"), path); }
  void replace(const std::string& from, const std::string& to) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string source = buffer.str();
    const size_t at = source.find(from);
    REQUIRE(at != std::string::npos);
    source.replace(at, from.size(), to);
    std::ofstream(path, std::ios::trunc) << source;
  }
};

TEST_CASE("fork_on_drift: an edited prompt continues the run in a fork and marks the original",
          "[samples]") {
  Cli cli;
  EditableScript script;
  const std::string run = "--json run " + script.path + " --run-id fod";
  CliRun first = cli(run);
  REQUIRE(first.exit_code == 0);
  CHECK(str(*result_of(first).find("output"), "recorded_in") == "fod");
  CHECK(str(*result_of(first).find("output"), "run_id") == "fod");

  script.replace(kPromptLine, kEditedPromptLine);
  CliRun forked = cli(run + " --replay fork_on_drift");
  REQUIRE(forked.exit_code == 0);
  const Json output = *result_of(forked).find("output");
  CHECK(str(output, "summary") == "summary of 'Summarise the ledger in one word'");
  const std::string fork = str(output, "recorded_in");
  REQUIRE_THAT(fork, Catch::Matches("fod::fork::[0-9a-f]{12}"));
  CHECK(str(output, "run_id") == fork);  // run.id in the fork is the fork's
  // --json names the run that executed, and the run it forked from.
  CHECK(str(result_of(forked), "run_id") == fork);
  CHECK(str(result_of(forked), "forked_from") == "fod");
  CHECK(occurrences(forked.err, "port call: Summarise the ledger in one word") == 1);
  // The fork shares the first execution's time read.
  CHECK(text(*output.find("started_at")) ==
        text(*result_of(first).find("output")->find("started_at")));

  CHECK_THAT(cli("--json runs").out, Catch::Contains("\"run_id\":\"" + fork + "\""));
  CliRun status = cli("--json status " + fork);
  CHECK(status.exit_code == 0);
  CHECK(str(result_of(status), "status") == "completed");
  const std::vector<Json> original = events(cli, "fod");
  REQUIRE(count(original, "replayed_with_drift") == 1);
  CHECK_THAT(text(original.back()), Catch::Contains(fork));
}

TEST_CASE("fork_on_drift: under the strict policy an edited prompt halts the run with exit 4",
          "[samples]") {
  Cli cli;
  EditableScript script;
  const std::string run = "--json run " + script.path + " --run-id strict-1";
  REQUIRE(cli(run).exit_code == 0);
  const size_t recorded = events(cli, "strict-1").size();

  script.replace(kPromptLine, kEditedPromptLine);
  CliRun halted = cli(run);
  CHECK(halted.exit_code == 4);
  CHECK(str(*result_of(halted).find("error"), "kind") == "replay_drift");
  CHECK(occurrences(halted.err, "port call:") == 0);
  CHECK(events(cli, "strict-1").size() <= recorded + 1);  // at most a run_halted
}

// The charge the golden sample makes for run `golden-fi` (the idempotency key, hence the
// charge id, depends only on the run id, the tool and the step key).
const char kGoldenRun[] = "golden-fi";

TEST_CASE(
    "golden: a crash after the charge halts for reconciliation and completes with the "
    "operator's result",
    "[samples]") {
  Cli cli;
  const std::string run = "--json run " + sample("golden/golden.lua") + " --run-id order-7";
  CliRun crashed = cli(run, {{"ARTANA_CRASH_AT", "tool.end:1"}});
  REQUIRE(crashed.exit_code == 128 + SIGKILL);

  CliRun halted = cli(run);
  REQUIRE(halted.exit_code == 4);
  const Json error = *result_of(halted).find("error");
  CHECK(str(error, "kind") == "reconciliation_required");
  CHECK(str(error, "step_key") == "charge");

  CliRun reconciled =
      cli("reconcile order-7 --step charge --outcome success "
          "--result '{\"charge_id\": \"ch_manual\", \"amount\": 12.5}'");
  REQUIRE(reconciled.exit_code == 0);

  CliRun done = cli(run);
  REQUIRE(done.exit_code == 0);
  CHECK(text(*result_of(done).find("output")) ==
        R"({"charge":{"amount":12.5,"charge_id":"ch_manual"},"receipt":"Receipt: ch_manual"})");
  CHECK(occurrences(cli.printed(), "CHARGED ") == 1);
}

// Runs golden as kGoldenRun with `crash_at` (none when empty), then again until it completes,
// reconciling a halted charge with `charge` (what the charge really returned). Returns the final
// result.
struct Recovered {
  bool crashed = false;     // the crash point was reached
  bool reconciled = false;  // the charge's outcome was unknown and an operator settled it
  Json output;
  size_t charges = 0;  // CHARGED lines across every process
};

Recovered crash_and_recover(const std::string& crash_at, const std::string& charge) {
  Cli cli;
  const std::string run = "--json run " + sample("golden/golden.lua") + " --run-id " + kGoldenRun;
  Recovered recovered;
  CliRun attempt = crash_at.empty() ? cli(run) : cli(run, {{"ARTANA_CRASH_AT", crash_at}});
  recovered.crashed = attempt.exit_code == 128 + SIGKILL;
  for (int tries = 0; attempt.exit_code != 0 && tries < 4; ++tries) {
    if (attempt.exit_code == 4) {
      INFO(crash_at << ": " << attempt.out);
      REQUIRE(str(*result_of(attempt).find("error"), "kind") == "reconciliation_required");
      REQUIRE(cli(std::string("reconcile ") + kGoldenRun +
                  " --step charge --outcome success --result '" + charge + "'")
                  .exit_code == 0);
      recovered.reconciled = true;
    } else {
      INFO(crash_at << ": exit " << attempt.exit_code << "\n" << attempt.out << attempt.err);
      REQUIRE(attempt.exit_code == 128 + SIGKILL);
      REQUIRE(tries == 0);
    }
    attempt = cli(run);
  }
  INFO(crash_at << ": " << attempt.out << attempt.err);
  REQUIRE(attempt.exit_code == 0);
  recovered.output = *result_of(attempt).find("output");
  recovered.charges = occurrences(cli.printed(), "CHARGED ");
  return recovered;
}

TEST_CASE(
    "golden: a crash at any syscall, append or tool point resumes to the same output "
    "with at most one charge",
    "[samples][crash]") {
  const Recovered baseline = crash_and_recover("", "");
  REQUIRE(!baseline.crashed);
  REQUIRE(baseline.charges == 1);
  const std::string charge = text(*baseline.output.find("charge"));

  for (const char* point : {"syscall", "append.before", "append.after", "tool.start", "tool.end"}) {
    int reached = 0;
    for (int n = 1; n <= 30; ++n) {
      const std::string crash_at = std::string(point) + ":" + std::to_string(n);
      const Recovered r = crash_and_recover(crash_at, charge);
      INFO(crash_at << (r.reconciled ? " (reconciled)" : ""));
      CHECK(text(r.output) == text(baseline.output));
      // A charge that ran and was recorded ran once; one whose outcome was lost may have
      // run once (then reconciled) or not at all (its request was committed, then the crash).
      if (r.reconciled) {
        CHECK(r.charges <= 1);
      } else {
        CHECK(r.charges == 1);
      }
      // Killed after the tool's fn returned: it ran, and only an operator can say so.
      if (std::string(point) == "tool.end" && r.crashed) CHECK((r.reconciled && r.charges == 1));
      if (!r.crashed) break;  // the point is crossed fewer than n times
      ++reached;
    }
    INFO(point);
    CHECK(reached >= 1);
  }
}

// start_run commits the run's header, then appends run_started in a second transaction; a
// crash between them leaves a run with no run_started, which the next execution starts.
TEST_CASE(
    "golden: a crash before the run's first event is written leaves a run that can "
    "still start",
    "[samples][crash]") {
  const Recovered baseline = crash_and_recover("", "");
  const std::string charge = text(*baseline.output.find("charge"));
  const Recovered r = crash_and_recover("append.before:1", charge);
  CHECK(r.crashed);
  CHECK(text(r.output) == text(baseline.output));
  CHECK(r.charges == 1);
}

TEST_CASE("pause: the run pauses for approval and a resume with input completes it", "[samples]") {
  Cli cli;
  CliRun paused = cli("--json run " + sample("pause/pause.lua") + " --run-id pay-1");
  REQUIRE(paused.exit_code == 3);
  CHECK(str(result_of(paused), "status") == "paused");
  CHECK(cli("status pay-1").exit_code == 3);

  CliRun resumed = cli("--json resume pay-1 --input '\"approved\"'");
  REQUIRE(resumed.exit_code == 0);
  CHECK(text(*result_of(resumed).find("output")) == R"({"decision":"approved","paid":12})");
  const std::vector<Json> recorded = events(cli, "pay-1");
  CHECK(count(recorded, "run_paused") == 1);
  CHECK(count(recorded, "tool_completed") == 1);
}

// Every other sample, killed at every crossing of every point, then executed again until it
// ends: the same output as an uninterrupted run, and no model call made twice for a step
// that was recorded (each port prints a line per call; a replayed step prints nothing).
TEST_CASE("every sample killed at any point resumes to the same output", "[samples][crash]") {
  struct Case {
    const char* name;
    std::string args;
    int final_exit;
  };
  const std::vector<Case> cases = {
      {"chat",
       "run " + sample("chat/chat.lua") + " --run-id c --input '{\"questions\":[\"a\",\"b\"]}'", 0},
      {"debate",
       "run " + sample("debate/debate.lua") +
           " --run-id d --input '{\"topic\":\"t\",\"rounds\":2}'",
       0},
      {"enforced_step",
       "run " + sample("enforced_step/enforced_step.lua") +
           " --run-id e --policy enforced --caps crm:write --budget 1 "
           "--input '{\"email\":\"ada@example.com\"}'",
       0},
      {"pause", "run " + sample("pause/pause.lua") + " --run-id p", 3},
  };
  for (const Case& c : cases) {
    Cli clean;
    CliRun baseline = clean("--json " + c.args);
    REQUIRE(baseline.exit_code == c.final_exit);
    const std::string expected = text(*result_of(baseline).find("output"));
    for (const char* point : {"syscall", "append.before", "append.after"}) {
      for (int n = 1; n <= 40; ++n) {
        const std::string crash_at = std::string(point) + ":" + std::to_string(n);
        Cli cli;
        CliRun attempt = cli("--json " + c.args, {{"ARTANA_CRASH_AT", crash_at}});
        const bool crashed = attempt.exit_code == 128 + SIGKILL;
        if (crashed) attempt = cli("--json " + c.args);
        INFO(c.name << " " << crash_at << "\n" << attempt.out << attempt.err);
        REQUIRE(attempt.exit_code == c.final_exit);
        CHECK(text(*result_of(attempt).find("output")) == expected);
        if (!crashed) break;  // the point is crossed fewer than n times
      }
    }
  }
}

}  // namespace
}  // namespace artana::testing
