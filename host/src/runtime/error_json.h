// A run's error as JSON — what run_failed / run_halted record and `--json` prints:
// {kind, message, step_key, where, traceback} (empty fields left out) — and back.
// Pure functions.
#pragma once

#include <string>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "artana/lua/lua_error.h"

namespace artana::host {

kernel::Json boundary_error_json(const lua::BoundaryError& error, const std::string& traceback);
lua::BoundaryError boundary_from_json(const kernel::Json& error);
// A kernel error: kind() (or the code's name), message, step_key.
kernel::Json status_error_json(const Status& status);

}  // namespace artana::host
