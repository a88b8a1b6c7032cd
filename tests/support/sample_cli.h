// The stdlib's samples run as a user runs them: the `artana` CLI on a fresh ledger in a temp
// dir, its --json result, `ledger export` and what it records (summaries, completed calls,
// side effects left cut) — killed at each crossing of a fault point in turn
// (kill_at_each_crossing), and what an operator reads off a halt (cut_step,
// child_needing_attention).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json.h"
#include "artana/kernel/json_parse.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing::sample_cli {

using kernel::Json;

// The path of a file under samples/.
inline std::string sample(const std::string& path) {
  return std::string(ARTANA_SOURCE_DIR) + "/samples/" + path;
}

// The CLI on one fresh ledger: `cli("run …")` is `artana --data <tmp>/ledger run …`;
// everything its processes printed to stderr (the scripts' print lines) is kept.
class Cli {
 public:
  CliRun operator()(const std::string& args, const std::map<std::string, std::string>& env = {}) {
    CliRun run = run_cli_env(env, "--data " + (dir_ / "ledger").string() + " " + args);
    printed_ += run.err;
    return run;
  }
  const TempDir& dir() const { return dir_; }
  const std::string& printed() const { return printed_; }

 private:
  TempDir dir_;
  std::string printed_;
};

// The one object `--json` prints on stdout.
inline Json result_of(const CliRun& run) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  auto parsed = kernel::parse_json(run.out);
  REQUIRE(parsed.ok());
  return *parsed;
}

// `artana ledger export RUN`, one parsed event per line.
inline std::vector<Json> exported(Cli& cli, const std::string& run, bool may_be_missing = false) {
  CliRun out = cli("ledger export " + run);
  INFO(out.err);
  if (may_be_missing && out.exit_code == 9) return {};  // killed before its first event
  REQUIRE(out.exit_code == 0);
  std::vector<Json> events;
  std::istringstream lines(out.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    auto event = kernel::parse_json(line);
    REQUIRE(event.ok());
    events.push_back(std::move(*event));
  }
  return events;
}

inline std::string string_at(const Json& value, const char* key) {
  const Json* member = value.find(key);
  return member != nullptr && member->is_string() ? member->as_string() : "";
}

// The values of the run_summary events of `kind`, in order, as canonical JSON text.
inline std::vector<std::string> summary_values(const std::vector<Json>& events,
                                               const std::string& kind) {
  std::vector<std::string> out;
  for (const Json& e : events) {
    const Json& payload = *e.find("payload");
    if (string_at(e, "type") == "run_summary" && string_at(payload, "kind") == kind)
      out.push_back(kernel::canonical_json(*payload.find("value")).value());
  }
  return out;
}

// How many calls of `name` the events record as completed: the <kind>_completed events (any
// outcome) of the steps whose <kind>_requested names it in request.<kind>.
inline size_t completed_calls(const std::vector<Json>& events, const std::string& kind,
                              const std::string& name) {
  std::vector<std::string> steps;
  size_t n = 0;
  for (const Json& e : events) {
    const Json& payload = *e.find("payload");
    const std::string type = string_at(e, "type");
    if (type == kind + "_requested" && string_at(*payload.find("request"), kind.c_str()) == name)
      steps.push_back(string_at(payload, "step_key"));
    if (type == kind + "_completed")
      n += std::count(steps.begin(), steps.end(), string_at(payload, "step_key"));
  }
  return n;
}

// Of model (or port) `model`; of tool `tool`.
inline size_t models_completed(const std::vector<Json>& events, const std::string& model) {
  return completed_calls(events, "model", model);
}
inline size_t tools_completed(const std::vector<Json>& events, const std::string& tool) {
  return completed_calls(events, "tool", tool);
}

// The calls of model `model` a killed process made (each printed `marker` to its log,
// `killed_err`) whose completion the ledger it left (`left`: every run's events) does not
// hold: a step's commit lands after the step, so a kill can take a call's result with it,
// and the next execution makes that call again. Nothing recorded is ever made twice.
inline size_t lost_calls(const std::string& killed_err, const std::string& marker,
                         const std::vector<Json>& left, const std::string& model) {
  size_t made = 0;
  for (size_t at = killed_err.find(marker); at != std::string::npos;
       at = killed_err.find(marker, at + marker.size()))
    ++made;
  const size_t recorded = models_completed(left, model);
  return made > recorded ? made - recorded : 0;
}

// The tool a run's step `step` requested ("" when it requested none).
inline std::string tool_of(const std::vector<Json>& events, const std::string& step) {
  for (const Json& e : events) {
    const Json& payload = *e.find("payload");
    if (string_at(e, "type") == "tool_requested" && string_at(payload, "step_key") == step)
      return string_at(*payload.find("request"), "tool");
  }
  return "";
}

// The steps of side-effecting tools the events show requested and not completed: what a kill
// cut, which the run's next execution halts on (reconciliation_required).
inline std::vector<std::string> cut_side_effects(const std::vector<Json>& events) {
  std::vector<std::string> open;
  for (const Json& e : events) {
    const Json& payload = *e.find("payload");
    const std::string type = string_at(e, "type"), step = string_at(payload, "step_key");
    const Json* side_effect = payload.find("side_effect");
    if (type == "tool_requested" && side_effect != nullptr && side_effect->is_bool() &&
        side_effect->as_bool())
      open.push_back(step);
    if (type == "tool_completed")
      open.erase(std::remove(open.begin(), open.end(), step), open.end());
  }
  return open;
}

// ---- killed at every crossing of a fault point ----

// The exit code of a process that SIGKILLed itself (ARTANA_CRASH_AT), as a shell reports it.
inline constexpr int kKilled = 128 + 9;

using Env = std::map<std::string, std::string>;

// The environment that makes a process SIGKILL itself the k-th time it crosses `point` (one
// of kernel/include/artana/kernel/fault_points.h: syscall, append.before, ...).
inline Env crash_at(const std::string& point, int k) {
  return {{"ARTANA_CRASH_AT", point + ":" + std::to_string(k)}};
}

// Under AddressSanitizer each process costs several times more: past the first three, every
// fifth crossing is tried there (still each part of the run, and CI's time bounded); every
// one in the other builds, which is where the crash-recovery coverage comes from.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr int kCrossingStride = 5;
#else
inline constexpr int kCrossingStride = 1;
#endif

// Calls `trial(crash_at(point, k))` for k = 1, 2, 3, then by the stride, until a trial returns
// false — the process it gave the crash to was not killed: it crosses `point` fewer than k times,
// so every crossing (every stride-th) was tried. Each trial kills a process (on a fresh ledger of
// its own, say) and goes on to the run's end. Returns the last crossing a trial killed at: about
// how many times the run crosses `point`.
template <typename Trial>
int kill_at_each_crossing(const std::string& point, Trial&& trial, int limit = 500) {
  int last_killed = 0;
  for (int k = 1;; k += k < 3 ? 1 : kCrossingStride) {
    INFO("killed at " << point << ":" << k);
    REQUIRE(k <= limit);
    if (!trial(crash_at(point, k))) return last_killed;
    last_killed = k;
  }
}

// ---- a side effect cut by a kill ----

// The step a run halted on with reconciliation_required, and the run it is in (a child's,
// when the halt reached its parent): read off the error's message, "tool step 'S' of run 'R'
// may or may not have had its effect ...".
struct CutStep {
  std::string run, step;
};

inline CutStep cut_step(const Json& error) {
  INFO(kernel::canonical_json(error).value());
  const Json* kind = error.find("kind");
  REQUIRE((kind != nullptr && kind->is_string() && kind->as_string() == "reconciliation_required"));
  const std::string message = string_at(error, "message");
  const std::string step_mark = "tool step '", run_mark = "' of run '";
  const size_t step_at = message.find(step_mark);
  REQUIRE(step_at != std::string::npos);
  const size_t run_at = message.find(run_mark, step_at);
  REQUIRE(run_at != std::string::npos);
  const size_t run_end = message.find('\'', run_at + run_mark.size());
  REQUIRE(run_end != std::string::npos);
  return {message.substr(run_at + run_mark.size(), run_end - run_at - run_mark.size()),
          message.substr(step_at + step_mark.size(), run_at - step_at - step_mark.size())};
}

// The child run a parent is held by when executing the parent again says it waits for a child
// that needs attention (invalid_state: "waits for its child run 'C', which is
// needs_attention"); "" for any other error. The child is what an operator resumes (and, when
// its own error says so, reconciles).
inline std::string child_needing_attention(const Json& error) {
  const std::string message = string_at(error, "message"), mark = "waits for its child run '";
  const size_t at = message.find(mark);
  if (string_at(error, "kind") != "invalid_state" || at == std::string::npos) return "";
  const size_t end = message.find('\'', at + mark.size());
  return end == std::string::npos ? "" : message.substr(at + mark.size(), end - at - mark.size());
}

// ---- tdd_fix's workspace ----

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Copies samples/tdd_fix/workspace to `to`, its check.sh made to append a line to
// check_runs.log each time it starts: how many times the check really ran (tdd_check_runs),
// recorded or not. What the check prints, and so what the run records, is unchanged.
inline void copy_tdd_fix_workspace(const std::filesystem::path& to) {
  std::filesystem::copy(sample("tdd_fix/workspace"), to, std::filesystem::copy_options::recursive);
  std::string check = read_text(to / "check.sh");
  const size_t first_line = check.find('\n') + 1;
  REQUIRE(first_line > 0);
  check.insert(first_line, "echo CHECK RAN >> check_runs.log\n");
  std::ofstream(to / "check.sh", std::ios::trunc) << check;
}

inline size_t tdd_check_runs(const std::filesystem::path& workspace) {
  std::ifstream in(workspace / "check_runs.log");
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line == "CHECK RAN";
  return n;
}

}  // namespace artana::testing::sample_cli
