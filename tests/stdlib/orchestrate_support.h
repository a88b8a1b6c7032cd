// What the artana.orchestrate tests share: the scripts' common head, and readers of the
// orchestrate_node summaries and print lines a run left.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "stdlib/stdlib_fixture.h"

namespace artana::testing::orchestrate {

inline const char kHead[] = R"lua(local artana = require "artana"
local orchestrate = require "artana.orchestrate"
)lua";

inline std::string lua(const std::string& body) { return std::string(kHead) + body; }

// The run's orchestrate_node summaries in ledger order, each "<step key> <status>".
inline std::vector<std::string> node_summaries(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : summaries_of(f, run, "orchestrate_node")) {
    out.push_back(e.payload.find("step_key")->as_string() + " " +
                  e.payload.find("value")->find("status")->as_string());
  }
  return out;
}

// The values of the run's orchestrate_node summaries, as canonical JSON text.
inline std::vector<std::string> node_values(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : summaries_of(f, run, "orchestrate_node"))
    out.push_back(text(*e.payload.find("value")));
  return out;
}

// The printed lines starting with `prefix`, in order.
inline std::vector<std::string> printed_with(const HostFixture& f, const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& line : f.printed)
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  return out;
}

inline host::RunOutcome completed(host::RunOutcome outcome) {
  INFO(text(outcome.error));
  REQUIRE(outcome.status == kernel::RunStatus::kCompleted);
  return outcome;
}

}  // namespace artana::testing::orchestrate
