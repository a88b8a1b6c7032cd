// `artana ledger verify|export`: the ledger verbs of the CLI.
#pragma once

#include <string>
#include <vector>

namespace artana::host {

struct GlobalOptions {
  std::string data_dir;  // --data DIR, else $ARTANA_HOME, else ./.artana
  bool json = false;     // --json: machine-readable output
};

// args: what follows `ledger` on the command line. Returns the process exit code.
int run_ledger_command(const GlobalOptions& global, const std::vector<std::string>& args);

}  // namespace artana::host
