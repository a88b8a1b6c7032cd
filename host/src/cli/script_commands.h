// `artana run SCRIPT …`, `artana resume RUN_ID …`, `artana worker …`.
#pragma once

#include <string>
#include <vector>

#include "ledger_commands.h"

namespace artana::host {

// Returns the exit code, or -1 when args[0] is not one of these verbs.
int run_script_command(const GlobalOptions& global, const std::vector<std::string>& args);

}  // namespace artana::host
