// A data directory in a temp dir, scripts written next to it, and the `artana` CLI run on it:
// what the CLI tests share.
#pragma once

#include <fstream>
#include <map>
#include <string>

#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {

struct CliLedger {
  TempDir dir;
  // `artana --data <dir>/ledger <args>`, with `env` added to its environment.
  CliRun operator()(const std::string& args, const std::map<std::string, std::string>& env = {}) {
    return run_cli_env(env, "--data " + (dir / "ledger").string() + " " + args);
  }
  // Writes `text` to <dir>/<name> and returns the path.
  std::string script(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
};

}  // namespace artana::testing
