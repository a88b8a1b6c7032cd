// The host's built-in tools (run:http): tool steps like any other — two-phase, journaled,
// capability-gated by the kernel — whose work is done by the host's I/O thread, not by a
// Lua function.
#include <filesystem>

#include "builtin_tools.h"
#include "exec_tool.h"
#include "file_tools.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;

std::vector<kernel::ToolSpec> builtin_tool_specs() {
  std::vector<kernel::ToolSpec> specs = http_tool_specs();
  specs.push_back(exec_tool_spec());
  for (kernel::ToolSpec& spec : file_tool_specs()) specs.push_back(std::move(spec));
  return specs;
}

bool is_builtin_tool(std::string_view name) { return name.rfind("artana.", 0) == 0; }

std::string_view tool_key_kind(std::string_view tool) {
  if (tool == kHttpReadTool || tool == kHttpSendTool) return "http";
  if (tool == kExecTool) return "exec";
  if (tool == kWriteFileTool) return "write_file";
  if (tool == kReadFileTool || tool == kReadScriptFileTool) return "read_file";
  return "tool";
}

std::string ScriptRun::file_root(std::string_view tool) const {
  if (tool == kReadScriptFileTool) {
    return std::filesystem::path(script_path()).parent_path().string();
  }
  return host_.options().workspace;
}

Status ScriptRun::check_builtin(const kernel::ToolCall& call) {
  if (is_file_tool(call.tool))
    return file_tool_path(call.arguments, file_root(call.tool), call.tool).status();
  if (call.tool == kExecTool) {
    return exec_process_call(call.arguments, host_.options().workspace).status();
  }
  if (call.tool != kHttpReadTool && call.tool != kHttpSendTool) return Status();
  ARTANA_ASSIGN_OR_RETURN(HttpToolRequest http, parse_http_tool_args(call.arguments));
  const bool reads = http.method == "GET" || http.method == "HEAD";
  if (reads != (call.tool == kHttpReadTool)) {
    return Status::invalid_argument("run:http: method {} goes through {}", http.method,
                                    reads ? kHttpReadTool : kHttpSendTool)
        .with_kind(ErrorKind::kInvalidArgument);
  }
  return check_http_policy(http, host_.http_allow(), host_.secret_env());
}

void ScriptRun::start_builtin(Task& waiter) {
  const kernel::ToolCall& call = waiter.tool_call;
  if (call.tool == kExecTool) return start_exec(waiter);
  if (is_file_tool(call.tool)) {
    // Small files, read or written here: at most 16 MiB, bounded by the disk, not a network.
    auto path = file_tool_path(call.arguments, file_root(call.tool), call.tool);
    if (!path.ok()) {
      kernel::ToolOutcome refused;
      refused.kind = kernel::ToolOutcomeKind::kPermanentError;
      refused.error = path.status().message();
      return finish_builtin(waiter, std::move(refused));
    }
    return finish_builtin(waiter, run_file_tool(call.tool, *path, call.arguments));
  }
  auto http = parse_http_tool_args(call.arguments);
  if (!http.ok()) {
    kernel::ToolOutcome outcome;
    outcome.kind = kernel::ToolOutcomeKind::kPermanentError;
    outcome.error = http.status().message();
    return finish_builtin(waiter, std::move(outcome));
  }
  waiter.http_tool =
      std::make_unique<HttpToolCall>(std::move(*http), call.side_effect, &host_.http_allow());
  ++live_work_;  // the run keeps its lease while the request is in flight
  http_tool_next(waiter, std::nullopt);
}

void ScriptRun::http_tool_next(Task& waiter, std::optional<kernel::ToolOutcome> done) {
  if (!done) {
    auto request = waiter.http_tool->next_request();
    if (request.ok()) {
      auto sent = host_.send_http(std::move(*request), *this, waiter.id);
      if (sent.ok()) return;
      request = sent.status();
    }
    kernel::ToolOutcome outcome;  // nothing was sent: nothing happened
    outcome.kind = kernel::ToolOutcomeKind::kPermanentError;
    outcome.error = request.status().message();
    done = std::move(outcome);
  }
  --live_work_;
  waiter.http_tool.reset();
  finish_builtin(waiter, std::move(*done));
}

void ScriptRun::start_exec(Task& waiter) {
  auto process = exec_process_call(waiter.tool_call.arguments, host_.options().workspace);
  Result<uint64_t> sent = process.ok() ? host_.send_process(std::move(*process), *this, waiter.id)
                                       : Result<uint64_t>(process.status());
  if (!sent.ok()) {
    kernel::ToolOutcome outcome;  // nothing was started: nothing happened
    outcome.kind = kernel::ToolOutcomeKind::kPermanentError;
    outcome.error = sent.status().message();
    return finish_builtin(waiter, std::move(outcome));
  }
  waiter.process_running = true;
  ++live_work_;  // the run keeps its lease while the program runs
}

void ScriptRun::process_result(uint64_t task_id, io::ProcessResult result) {
  for (const auto& owned : tasks_) {
    Task& task = *owned;
    if (task.id != task_id || task.wait != WaitKind::kTool || !task.process_running) continue;
    task.process_running = false;
    --live_work_;
    return finish_builtin(task, exec_outcome(std::move(result)));
  }
}

void ScriptRun::finish_builtin(Task& waiter, kernel::ToolOutcome outcome) {
  const uint64_t ticket = waiter.pending.ticket();
  auto finished = kernel_.finish_tool(std::move(waiter.pending), std::move(outcome));
  if (!finished.ok()) return call_finished(waiter, ticket, finished.status());
  call_finished(waiter, ticket, tool_result_json(std::move(*finished)));
}

}  // namespace artana::host
