// `artana ledger verify|export`: the ledger verbs of the CLI.
#pragma once

#include <string>
#include <vector>

namespace artana::host {

struct GlobalOptions {
  std::string data_dir;  // --data DIR, else $ARTANA_HOME, else ./.artana
  bool json = false;     // --json: machine-readable output
  // --lease-ttl-ms N: how long a run's owner may go silent before another process may take
  // the run over (an owner executing it renews it every third of this).
  int64_t lease_ttl_ms = 30'000;
};

// args: what follows `ledger` on the command line. Returns the process exit code.
int run_ledger_command(const GlobalOptions& global, const std::vector<std::string>& args);

}  // namespace artana::host
