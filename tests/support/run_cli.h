// Runs the `artana` executable the build made, capturing its output (stdout and stderr).
#pragma once

#include <string>

namespace artana::testing {

struct CliResult {
  int exit_code;
  std::string out;
};

// `args` is appended to the executable's path as shell text.
CliResult run_cli(const std::string& args);

}  // namespace artana::testing
