// run:read_file and run:write_file as tool steps: `artana.read_file` (the workspace, needs
// workspace:read), `artana.read_script_file` (the script's folder, needs nothing) and
// `artana.write_file` (the workspace, needs workspace:write, a side effect written
// atomically). Paths are resolved inside their root (workspace_path.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/tool_registry.h"

namespace artana::host {

inline constexpr std::string_view kReadFileTool = "artana.read_file";
inline constexpr std::string_view kReadScriptFileTool = "artana.read_script_file";
inline constexpr std::string_view kWriteFileTool = "artana.write_file";
inline constexpr size_t kFileLimit = size_t{16} << 20;  // read or written by one step

std::vector<kernel::ToolSpec> file_tool_specs();
bool is_file_tool(std::string_view tool);

// The absolute path a file tool's `args.path` names inside `root` (the workspace or the
// script's folder): kPolicyViolation without a workspace, kSandboxViolation when it leaves
// the root.
Result<std::string> file_tool_path(const kernel::Json& args, const std::string& root,
                                   std::string_view tool);

// The step's outcome: read → {exists, text | text_base64, sha256}; write → {bytes, sha256}.
kernel::ToolOutcome run_file_tool(std::string_view tool, const std::string& path,
                                  const kernel::Json& args);

}  // namespace artana::host
