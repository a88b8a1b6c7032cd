// Compiling a script without running it: what an application learns when it loads one (the C
// API's artana_script_load_memory), before any run of it starts.
#pragma once

#include <string>
#include <string_view>

#include "artana/kernel/status.h"

namespace artana::lua {

// Whether `source` compiles as a script named `name`, by the rules a run loads it with (text
// only; a byte order mark and a first line starting with '#' skipped). When it does not:
// kInvalidArgument of kind script_error with Lua's message ("name:3: ..."). Nothing runs.
Status check_script_syntax(std::string_view source, const std::string& name);

}  // namespace artana::lua
