// The host's built-in tools, registered in every run's registry under names artana.tool
// refuses: run:http (http_tool.h) and run:exec (exec_tool.h).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "artana/kernel/tool_registry.h"

namespace artana::host {

std::vector<kernel::ToolSpec> builtin_tool_specs();
// The built-ins compiled (host_native.cc): once per process, the first time a host is made.
using CompiledTools = std::vector<Result<std::shared_ptr<const kernel::RegisteredTool>>>;
const CompiledTools& compiled_builtin_tools();
bool is_builtin_tool(std::string_view name);
// The step key kind of a built-in's steps ("http", "exec"), else "tool".
std::string_view tool_key_kind(std::string_view tool);

}  // namespace artana::host
