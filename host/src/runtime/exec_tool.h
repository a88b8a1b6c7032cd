// run:exec as a tool step (`artana.exec`, a side effect needing `exec:run`): its arguments,
// the workspace its directory must be in, the program as the I/O thread runs it, and what
// the step records. Values only: no Lua, no kernel.
#pragma once

#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/tool_registry.h"
#include "child_process.h"

namespace artana::host {

inline constexpr std::string_view kExecTool = "artana.exec";
inline constexpr std::string_view kExecCapability = "exec:run";

kernel::ToolSpec exec_tool_spec();

// The program to run for `args` ({argv, cwd, env, timeout_s}) inside `workspace`:
// kInvalidArgument naming a bad field, kPolicyViolation without a workspace, and
// kSandboxViolation for a cwd that leaves it (`..`, an absolute path elsewhere, a symlink
// out). The environment is PATH, HOME and LANG (the host's) plus `env`.
Result<io::ProcessCall> exec_process_call(const kernel::Json& args, const std::string& workspace);

// What the step records: {exit_code, signal?, stdout, stderr, truncated, timed_out} (a
// stream that is not UTF-8 as stdout_base64 / stderr_base64); a program that could not be
// started is a failure that did nothing.
kernel::ToolOutcome exec_outcome(io::ProcessResult result);

}  // namespace artana::host
