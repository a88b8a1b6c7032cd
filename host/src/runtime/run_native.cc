// Live tool and model steps answered by the embedding application's native functions
// (native_calls.h): the call goes out with a token, the answer comes back through the host's
// inbox at a later tick (Host::deliver_completions) and finishes the step as a Lua tool's
// or port's return would.
#include "artana/kernel/canonical_json.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;

namespace {

// The request of a native call: the JSON and who is asking.
Result<NativeCall> native_call(const Json& value, const kernel::RunId& run,
                               const kernel::TenantId& tenant, const std::string& step_key,
                               std::string idempotency_key) {
  NativeCall call;
  ARTANA_ASSIGN_OR_RETURN(call.json, kernel::canonical_json(value));
  call.run_id = run.str();
  call.tenant = tenant.str();
  call.step_key = step_key;
  call.idempotency_key = std::move(idempotency_key);
  return call;
}

}  // namespace

void ScriptRun::start_native_tool(Task& waiter, const NativeFunction& fn) {
  const kernel::ToolCall& tool = waiter.tool_call;
  auto call =
      native_call(tool.arguments, tool.run_id, tool.tenant_id, tool.step_key, tool.idempotency_key);
  if (!call.ok()) {
    kernel::ToolOutcome outcome;
    outcome.kind = kernel::ToolOutcomeKind::kPermanentError;
    outcome.error = call.status().message();
    auto finished = kernel_.finish_tool(std::move(waiter.pending), std::move(outcome));
    return resume_with_status(waiter, finished.status(), waiter.wait_step_key);
  }
  ++live_work_;  // the run keeps its lease while the application works
  host_.call_native(fn, *call, *this, waiter.id);
}

void ScriptRun::start_native_model(Task& waiter) {
  kernel::ModelCall& model = waiter.model_call;
  const NativeFunction* fn = host_.native_port(model.model);
  const kernel::RunId run = model.run_id;
  const std::string step_key = model.step_key;
  // A model step has no idempotency key of its own: its step key names it in the run.
  auto call = native_call(model_port_request(model), run, tenant_, step_key, "");
  if (fn == nullptr || !call.ok()) {
    kernel::ModelOutcome outcome;
    outcome.ok = false;
    outcome.category = kernel::FailureCategory::kPermanent;
    outcome.error = fn == nullptr ? "the model port of '" + model.model + "' was removed"
                                  : call.status().message();
    auto finished = kernel_.finish_model(std::move(waiter.pending), std::move(outcome));
    return resume_with_status(waiter, finished.status(), waiter.wait_step_key);
  }
  ++live_work_;
  host_.call_native(*fn, *call, *this, waiter.id);
}

void ScriptRun::native_result(uint64_t task_id, NativeReply reply) {
  Task* found = nullptr;
  for (const auto& owned : tasks_) {
    if (owned->id == task_id && owned->state == TaskState::kWaiting && owned->pending) {
      found = owned.get();
      break;
    }
  }
  if (found == nullptr) return;  // its step went with a cancel or a reload
  Task& waiter = *found;
  --live_work_;
  const uint64_t ticket = waiter.pending.ticket();
  if (waiter.wait == WaitKind::kTool) {
    kernel::ToolOutcome outcome;
    if (reply.ok) {
      outcome.result = std::move(reply.value);
    } else {
      // Transient and permanent say nothing happened; a timeout leaves it open whether the
      // effect happened (a side-effecting tool's outcome is then unknown).
      outcome.kind = reply.failure == NativeFailure::kTransient
                         ? kernel::ToolOutcomeKind::kTransientError
                         : kernel::ToolOutcomeKind::kPermanentError;
      outcome.declared = reply.failure != NativeFailure::kTimeout;
      outcome.error = std::move(reply.message);
    }
    auto finished = kernel_.finish_tool(std::move(waiter.pending), std::move(outcome));
    if (!finished.ok()) return call_finished(waiter, ticket, finished.status());
    return call_finished(waiter, ticket, tool_result_json(std::move(*finished)));
  }
  kernel::ModelOutcome outcome;
  if (reply.ok) {
    outcome = port_outcome(waiter.model_call.model, std::move(reply.value));
  } else {
    outcome.ok = false;
    outcome.category =
        reply.failure == NativeFailure::kTransient ? kernel::FailureCategory::kTransient
        : reply.failure == NativeFailure::kTimeout ? kernel::FailureCategory::kTimeout
                                                   : kernel::FailureCategory::kPermanent;
    outcome.transient = reply.failure != NativeFailure::kPermanent;
    outcome.error = std::move(reply.message);
  }
  auto finished = kernel_.finish_model(std::move(waiter.pending), std::move(outcome));
  if (!finished.ok()) return call_finished(waiter, ticket, finished.status());
  call_finished(waiter, ticket, model_result_json(std::move(*finished)));
}

}  // namespace artana::host
