// The stdlib's samples run as a user runs them: the `artana` CLI on a fresh ledger in a temp
// dir, its --json result, `ledger export` and the summaries in it.
#pragma once

#include <catch2/catch.hpp>

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

}  // namespace artana::testing::sample_cli
