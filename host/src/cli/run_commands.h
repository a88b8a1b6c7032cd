// The operator's run verbs of the CLI: `status`, `runs`, `cancel`, `reconcile`. They act on
// the ledger through the kernel, as the run's tenant (the operator may act on any run).
#pragma once

#include <string>
#include <vector>

#include "ledger_commands.h"

namespace artana::host {

// args: the whole command line after the global options, verb first. Returns the exit code,
// or -1 when `args[0]` is not one of these verbs.
int run_operator_command(const GlobalOptions& global, const std::vector<std::string>& args);

}  // namespace artana::host
