// What the tests of artana.harness (tests/stdlib/harness_*_test.cc, supervisor_test.cc)
// share: the script prelude, readers of a run's summaries and steps, and (from sample_cli.h) the
// CLI on a fresh ledger for the samples.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "artana/kernel/json_parse.h"
#include "support/sample_cli.h"
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

// ---- the samples, through the CLI (sample_cli.h) ----

using sample_cli::Cli;
using sample_cli::cut_step;
using sample_cli::CutStep;
using sample_cli::Env;
using sample_cli::exported;
using sample_cli::kCrossingStride;
using sample_cli::kill_at_each_crossing;
using sample_cli::kKilled;
using sample_cli::result_of;
using sample_cli::sample;
using sample_cli::summary_values;

}  // namespace artana::testing::harness_testing
