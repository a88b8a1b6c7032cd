// What the tests of artana.harness (tests/stdlib/harness_*_test.cc, supervisor_test.cc)
// share: the script prelude, readers of a run's summaries and steps, and the CLI on a fresh
// ledger for the samples.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "artana/kernel/json_parse.h"
#include "stdlib/stdlib_fixture.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing::harness_testing {

using kernel::Json;
using kernel::RunStatus;

inline constexpr char kRequire[] = R"lua(local artana = require "artana"
local harness = require "artana.harness"
)lua";

// A script: `body` after the requires of artana and artana.harness.
inline std::string lua(const std::string& body) { return std::string(kRequire) + body; }

inline std::string str(const Json* value) {
  return value != nullptr && value->is_string() ? value->as_string() : "";
}

// The run_summary kinds of a run in order, each with its step key: "kind step_key".
inline std::vector<std::string> harness_summaries(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : f.events(run)) {
    const std::string kind = str(e.payload.find("kind"));
    if (e.type == "run_summary" && kind.rfind("harness_", 0) == 0)
      out.push_back(kind + " " + str(e.payload.find("step_key")));
  }
  return out;
}

// The keys of a run's task_progress summaries, in order.
inline std::vector<std::string> progress_keys(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : summaries_of(f, run, "task_progress"))
    out.push_back(str(e.payload.find("key")));
  return out;
}

// How many events of `type` a run has whose step key contains `part`.
inline size_t count_steps(HostFixture& f, const std::string& run, const std::string& type,
                          const std::string& part) {
  size_t n = 0;
  for (const kernel::Event& e : f.events(run))
    n += e.type == type && str(e.payload.find("step_key")).find(part) != std::string::npos;
  return n;
}

inline size_t count_printed(const HostFixture& f, const std::string& prefix) {
  size_t n = 0;
  for (const std::string& line : f.printed) n += line.rfind(prefix, 0) == 0;
  return n;
}

// Resumes a paused run of tenant acme (the fixture's) with `input`, in the kernel only.
inline void resume(HostFixture& f, const std::string& run, Json input) {
  REQUIRE(f.kernel_host.kernel->resume(kernel::TenantId("acme"), kernel::RunId(run), input).ok());
}

inline const Json& value_of(const kernel::Event& summary) { return *summary.payload.find("value"); }

// ---- the samples, through the CLI ----

inline std::string sample(const std::string& path) {
  return std::string(ARTANA_SOURCE_DIR) + "/samples/" + path;
}

// The CLI on one fresh ledger; everything its processes printed to stderr is kept.
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

// The --json result object a CLI process printed.
inline Json result_of(const CliRun& run) {
  INFO("stdout: " << run.out << "\nstderr: " << run.err);
  auto parsed = kernel::parse_json(run.out);
  REQUIRE(parsed.ok());
  return *parsed;
}

// `artana ledger export RUN`, one parsed event per line.
inline std::vector<Json> exported(Cli& cli, const std::string& run) {
  CliRun out = cli("ledger export " + run);
  INFO(out.err);
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

// The values of the run_summary events of `kind`, in order.
inline std::vector<std::string> summary_values(const std::vector<Json>& events,
                                               const std::string& kind) {
  std::vector<std::string> out;
  for (const Json& e : events) {
    const Json& payload = *e.find("payload");
    if (str(e.find("type")) == "run_summary" && str(payload.find("kind")) == kind)
      out.push_back(text(*payload.find("value")));
  }
  return out;
}

}  // namespace artana::testing::harness_testing
