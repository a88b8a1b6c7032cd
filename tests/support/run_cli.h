// Runs the `artana` executable the build made, capturing its output.
#pragma once

#include <map>
#include <string>

namespace artana::testing {

struct CliResult {
  int exit_code;
  std::string out;
};

// `args` is appended to the executable's path as shell text; stderr is merged into `out`.
CliResult run_cli(const std::string& args);

// What one CLI process did, with its two streams kept apart.
struct CliRun {
  int exit_code;    // the process's exit code, or 128 + the signal that killed it (as sh)
  std::string out;  // stdout: with --json, the one result object
  std::string err;  // stderr: the log, script print() lines included
};

// Like run_cli, with `env` added to the process's environment (e.g. ARTANA_CRASH_AT).
CliRun run_cli_env(const std::map<std::string, std::string>& env, const std::string& args);

// How many times `needle` occurs in `haystack` (say, "CHARGED " lines in a CLI's stderr).
inline size_t occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size()))
    ++n;
  return n;
}

}  // namespace artana::testing
