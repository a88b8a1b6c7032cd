// run:tool — a tool step: replayed from the ledger, or run live (two-phase: the kernel has
// committed tool_requested before the tool's fn starts) as a task of its own.
#include "artana/kernel/fault_points.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/syscall_args.h"
#include "artana/lua/thread_calls.h"
#include "builtin_tools.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using lua::SyscallReply;

Json ScriptRun::tool_result_json(kernel::ToolResult&& result) {
  return Json::object_of(
      Json::Member("result", std::move(result.result)),
      Json::Member("outcome", std::string(kernel::tool_outcome_name(result.outcome))),
      Json::Member("replayed", result.replayed),
      Json::Member("seq", static_cast<int64_t>(result.seq)),
      Json::Member("run_id", result.run_id.str()));
}

SyscallReply& ScriptRun::sys_tool(lua_State* L, Task& task) {
  auto args = lua::decode_tool(L);
  if (!args.ok()) return reply_error(args.status());
  kernel::ToolRequest request;
  request.tool = std::move(args->tool);
  request.arguments = std::move(args->arguments);
  std::optional<std::string> explicit_key;
  if (args->options.is_object()) {
    for (const auto& [field, value] : args->options.as_object()) {
      if (field == "step_key" && value.is_string()) {
        explicit_key = value.as_string();
      } else if (field == "replay" && value.is_string()) {
        auto policy = kernel::parse_replay_policy(value.as_string());
        if (!policy.ok()) return reply_error(policy.status());
        request.replay = *policy;
      } else if (field == "retry_failed" && value.is_bool()) {
        request.retry_failed = value.as_bool();
      } else {
        return reply_error(ErrorKind::kInvalidArgument,
                           "run:tool: bad option '" + field +
                               "' (options: step_key string, replay string, retry_failed boolean)");
      }
    }
  }
  // A built-in is judged against what the operator allows once its step goes live, before
  // anything is recorded (a recorded step replays without it).
  if (is_builtin_tool(request.tool)) {
    request.live_check = [this](const kernel::ToolCall& call) { return check_builtin(call); };
  }
  auto key = claim_key(L, task, tool_key_kind(request.tool), explicit_key);
  if (!key.ok()) return reply_error(key.status());
  request.step_key = *key;
  if (!request.replay) request.replay = options_.replay;
  auto step = kernel_.begin_tool(tenant_, run_id_, request);
  if (!step.ok()) return reply_error(step.status(), *key);
  if (step->replayed) {
    note_drift(*key, step->replayed->drift_fields);
    return reply_value(tool_result_json(std::move(*step->replayed)));
  }
  if (step->adopted) return wait_adopted(task, *step->adopted, *key, L);
  task.start = StartKind::kTool;
  task.tool_call = std::move(*step->call);
  task.pending = std::move(step->pending);
  went_live_ = true;  // a live call: this execution has replayed what was recorded
  task.wait_step_key = *key;
  return reply_wait(task, WaitKind::kTool, L);
}

void ScriptRun::start_tool(Task& waiter) {
  const kernel::ToolCall& call = waiter.tool_call;
  if (is_builtin_tool(call.tool)) return start_builtin(waiter);
  if (const auto* native = host_.native_tool(call.tool)) {
    return start_native_tool(waiter, native->tool.fn);
  }
  Json context = Json::object({{"idempotency_key", call.idempotency_key},
                               {"run_id", call.run_id.str()},
                               {"tenant", call.tenant_id.str()},
                               {"step_key", call.step_key}});
  lua_State* thread = lua_->new_thread();
  if (thread == nullptr) return killed();
  auto args = lua::prepare_call(
      lua_->state(), thread, api_.call, api_.tools, call.tool, "fn", 0,
      {lua::CallArg{lua::kNoRef, &call.arguments}, lua::CallArg{lua::kNoRef, &context}});
  if (!args.ok()) {
    lua_->release_thread(thread);
    if (lua_->killed()) return killed();
    kernel::ToolOutcome outcome;
    outcome.kind = kernel::ToolOutcomeKind::kPermanentError;
    outcome.error = "tool '" + call.tool + "' has no function in this script";
    auto finished = kernel_.finish_tool(std::move(waiter.pending), std::move(outcome));
    return resume_with_status(waiter, finished.status(), waiter.wait_step_key);
  }
  kernel::fault_point("tool.start");
  Task* tool_task = new_task(TaskKind::kTool, thread);
  tool_task->waiter = &waiter;
  ++live_work_;
  make_ready(*tool_task, *args);
}

void ScriptRun::tool_returned(Task& tool, int nresults) {
  Task& waiter = *tool.waiter;
  kernel::ToolOutcome outcome;
  if (nresults > 0) {
    auto result = lua::to_json(tool.thread, -nresults, "result");
    if (!result.ok() && lua_->killed()) return killed();  // too big to build: a limit
    if (result.ok()) {
      outcome.result = std::move(*result);
    } else {
      // The tool did run: what it returned just cannot be recorded.
      outcome.kind = kernel::ToolOutcomeKind::kPermanentError;
      outcome.declared = false;
      outcome.error = "tool '" + waiter.tool_call.tool + "' returned " + result.status().message();
    }
  }
  finish_task(tool);
  --live_work_;
  kernel::fault_point("tool.end");
  const uint64_t ticket = waiter.pending.ticket();
  auto finished = kernel_.finish_tool(std::move(waiter.pending), std::move(outcome));
  if (!finished.ok()) return call_finished(waiter, ticket, finished.status());
  call_finished(waiter, ticket, tool_result_json(std::move(*finished)));
}

void ScriptRun::tool_raised(Task& tool) {
  const lua::BoundaryError error = lua::read_error(tool.thread, -1);
  Task& waiter = *tool.waiter;
  kernel::ToolOutcome outcome;
  // A tool says "nothing happened, try again later" by raising { kind = "transient_error" }
  // and "nothing happened, it failed" with { kind = "permanent_error" }; any other error
  // leaves it open whether its effect happened (the kernel decides what that means).
  const std::optional<ErrorKind> kind = parse_error_kind(error.kind);
  outcome.kind = kind == ErrorKind::kTransientError ? kernel::ToolOutcomeKind::kTransientError
                                                    : kernel::ToolOutcomeKind::kPermanentError;
  outcome.declared = kind == ErrorKind::kTransientError || kind == ErrorKind::kPermanentError;
  outcome.error = std::string(error.message);
  finish_task(tool);
  --live_work_;
  const uint64_t ticket = waiter.pending.ticket();
  auto finished = kernel_.finish_tool(std::move(waiter.pending), std::move(outcome));
  call_finished(waiter, ticket, finished.status());
}

}  // namespace artana::host
