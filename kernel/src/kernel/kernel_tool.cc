// Kernel: tool steps — two-phase (request committed before the tool runs), replay,
// unknown outcomes and the operator's reconciliation.
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel.h"
#include "artana/kernel/sha256.h"
#include "kernel/event_types.h"
#include "kernel/model_identity.h"
#include "kernel/step_machine.h"
#include "kernel/tenant_facts.h"
#include "kernel_log.h"

namespace artana::kernel {
namespace {

namespace ev = events;

// SHA-256 of the canonical JSON array [run_id, tool_name, step_key]: the same logical call
// has the same key in every attempt and every process, whatever else the run recorded.
Result<std::string> idempotency_key(const RunId& run, const std::string& tool,
                                    const std::string& step_key) {
  ARTANA_ASSIGN_OR_RETURN(std::string canonical,
                          canonical_json(Json::array({run.str(), tool, step_key})));
  return Sha256::of(canonical).hex();
}

// Moves the result out of `terminal` (its outcome and error stay for tool_failure).
Result<ToolResult> recorded_tool(const RunState& state, const std::string& step_key,
                                 RecordedTerminal& terminal) {
  const Json* outcome_name = terminal.payload.find("outcome");
  if (outcome_name == nullptr || !outcome_name->is_string()) {
    return Status::corruption("run '{}' step '{}': tool_completed at seq {} has no outcome",
                              state.run_id.str(), step_key, terminal.seq);
  }
  ARTANA_ASSIGN_OR_RETURN(ToolOutcomeKind outcome, parse_tool_outcome(outcome_name->as_string()));
  ToolResult result;
  result.run_id = state.run_id;
  result.outcome = outcome;
  if (Json* v = terminal.payload.find("result")) result.result = std::move(*v);
  result.replayed = true;
  result.seq = terminal.seq;
  return result;
}

// The script's error for a failed tool step, live and replayed alike: tool_failed, or the
// kind the tool gave its outcome (ToolOutcome::error_kind, recorded as `error_kind`).
Status tool_failure(const std::string& step_key, const RecordedTerminal& terminal) {
  const Json* error = terminal.payload.find("error");
  const Json* outcome = terminal.payload.find("outcome");
  const Json* kind_name = terminal.payload.find("error_kind");
  std::optional<ErrorKind> kind;
  if (kind_name != nullptr && kind_name->is_string())
    kind = parse_error_kind(kind_name->as_string());
  return Status::failed_precondition(
             "tool step '{}' ended with {} (seq {}): {}", step_key,
             outcome != nullptr && outcome->is_string() ? outcome->as_string() : "an error",
             terminal.seq, error != nullptr && error->is_string() ? error->as_string() : "")
      .with_kind(kind.value_or(ErrorKind::kToolFailed), step_key);
}

}  // namespace

Result<ToolStep> Kernel::begin_tool(const TenantId& caller, const RunId& run,
                                    const ToolRequest& request) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, request.step_key));
  const std::string& key = request.step_key;
  // Held until the call finishes: `tool` points into it, and set_run_tools may replace the
  // run's registry meanwhile.
  std::shared_ptr<const ToolRegistry> run_tools = active_run.state->tools;
  const RegisteredTool* tool = (run_tools ? *run_tools : tools_).find(request.tool);
  if (tool == nullptr) {
    return Status::invalid_argument("step '{}' calls tool '{}', which is not registered", key,
                                    request.tool);
  }
  // Bad arguments are the caller's error, found before anything is appended.
  ARTANA_RETURN_IF_ERROR(tool->validate_arguments(request.arguments));
  // The ledger gets the arguments as the request rewrites left them (PII replaced); the tool
  // itself gets the real ones.
  std::optional<Json> rewritten_arguments;
  Json arguments_pii = Json::object();
  auto prepare = [&](RunState& state, bool recorded) -> Result<RequestIdentity> {
    StepValue arguments(request.arguments);
    StepRequest rewrite{std::span<StepValue>(&arguments, 1)};
    rewrite.placeholders.renumber = recorded;
    ARTANA_RETURN_IF_ERROR(rewrite_request(state, key, StepKind::kTool, rewrite));
    rewritten_arguments.reset();
    if (arguments.edited()) rewritten_arguments = arguments.take();
    arguments_pii = std::move(rewrite.placeholders.allocated);
    return request_identity(
        Json::object({{"tool", request.tool},
                      {"version", tool->spec.version},
                      {"signature", tool->signature},
                      {"arguments", rewritten_arguments.value_or(request.arguments)}}),
        "request");
  };
  const StepQuery query{key, StepKind::kTool, request.replay.value_or(active_run.state->policy),
                        request.retry_failed, prepare};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(active_run, query));
  RunState& state = *active_run.state;
  if (decision.verdict == StepDecision::Verdict::kAdopted) {
    ToolStep adopted;
    adopted.adopted = decision.ticket;
    return adopted;
  }
  if (decision.verdict != StepDecision::Verdict::kLive) {
    RecordedTerminal& terminal = decision.terminal;
    ARTANA_ASSIGN_OR_RETURN(ToolResult result, recorded_tool(state, key, terminal));
    if (result.outcome != ToolOutcomeKind::kSuccess) return tool_failure(key, terminal);
    result.drift_fields = std::move(decision.drift_fields);
    return ToolStep{std::move(result), std::nullopt, PendingStep()};
  }

  // Live: judged, then the request is committed (synced before a side effect) before the
  // tool runs.
  ARTANA_ASSIGN_OR_RETURN(std::string idem, idempotency_key(state.run_id, request.tool, key));
  ToolCall call;
  call.run_id = state.run_id;
  call.tenant_id = state.tenant.tenant_id;
  call.step_key = key;
  call.tool = request.tool;
  call.arguments = request.arguments;
  call.idempotency_key = idem;
  call.side_effect = tool->spec.side_effect;
  call.capability = tool->spec.capability;
  call.capability_required = tool->spec.capability_required;
  StepValue recorded_arguments(rewritten_arguments ? *rewritten_arguments : request.arguments);
  StepRequest judged{std::span<StepValue>(&recorded_arguments, 1)};
  judged.tool = &call;
  ARTANA_RETURN_IF_ERROR(judge(state, key, StepKind::kTool, judged));
  if (request.live_check) {
    if (Status allowed = request.live_check(call); !allowed.ok()) {
      return allowed.with_kind(allowed.error_kind(), key);
    }
  }
  Json requested = Json::object({{"step_key", key},
                                 {"tool", request.tool},
                                 {"version", tool->spec.version},
                                 {"signature", tool->signature},
                                 {"arguments", recorded_arguments.take()},
                                 {"idempotency_key", idem},
                                 {"side_effect", tool->spec.side_effect},
                                 {"request_hash", decision.identity.hex()},
                                 {"request", decision.identity.request()}});
  record_placeholders(requested, std::move(arguments_pii));
  ARTANA_RETURN_IF_ERROR(
      append(state, event_drafts(EventDraft{std::string(ev::kToolRequested), std::move(requested)}),
             std::nullopt, /*barrier=*/tool->spec.side_effect)
          .status());
  LiveEntry entry;
  entry.step_key = key;
  entry.kind = StepKind::kTool;
  entry.identity = std::move(decision.identity);
  entry.registry = std::move(run_tools);
  ARTANA_ASSIGN_OR_RETURN(PendingStep pending, open_live(active_run.state, std::move(entry)));
  return ToolStep{std::nullopt, std::move(call), std::move(pending)};
}

Result<ToolResult> Kernel::finish_tool(PendingStep step, ToolOutcome outcome) {
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<LiveEntry> pending, take_live(step, StepKind::kTool));
  RunState& state = *pending->state;
  std::lock_guard<std::mutex> lock(state.mu);
  const std::string& key = pending->step_key;
  StepRecord& step_record = state.steps[key];
  step_record.in_flight = false;
  ARTANA_RETURN_IF_ERROR(ended_during_call(state, key));
  // A side effect that failed without saying its effect did not happen (it raised, or what
  // it returned cannot be recorded) may have happened: unknown, as after a crash.
  ToolOutcomeKind kind = outcome.kind;
  if (kind != ToolOutcomeKind::kSuccess && !outcome.declared && step_record.side_effect) {
    kind = ToolOutcomeKind::kUnknownOutcome;
  }
  Json completed = Json::object({{"step_key", key},
                                 {"request_hash", pending->identity.hex()},
                                 {"outcome", tool_outcome_name(kind)}});
  StepResult rewrite;
  if (outcome.kind == ToolOutcomeKind::kSuccess) {
    Json result = std::move(outcome.result);
    StepValue returned(&result);
    rewrite.values = std::span<StepValue>(&returned, 1);
    rewrite_result(state, key, StepKind::kTool, rewrite);
    record_placeholders(completed, std::move(rewrite.placeholders.allocated));
    completed.set("result", std::move(result));
  } else {
    completed.set("error", std::move(outcome.error));
    if (outcome.error_kind && kind != ToolOutcomeKind::kUnknownOutcome)
      completed.set("error_kind", std::string(error_kind_name(*outcome.error_kind)));
  }
  ARTANA_ASSIGN_OR_RETURN(
      AppendResult appended,
      append(state, event_drafts(EventDraft{std::string(ev::kToolCompleted), std::move(completed)}),
             std::nullopt, false, keep_tenant_facts(state.tenant.tenant_id, rewrite.facts)));
  RecordedTerminal terminal = recorded_terminal(std::move(appended.events.back()));
  if (kind == ToolOutcomeKind::kUnknownOutcome) {
    return reconciliation_halt(state, key, StepKind::kTool);
  }
  if (kind != ToolOutcomeKind::kSuccess) return tool_failure(key, terminal);
  ARTANA_ASSIGN_OR_RETURN(ToolResult result, recorded_tool(state, key, terminal));
  result.replayed = false;
  return result;
}

Status Kernel::settle_unknown_outcomes(RunState& state) {
  // An ended run (a cancel can cut a call off) is only looked at: nothing is appended after
  // its end. Its open step stays as recorded, requested and never completed.
  if (run_ended(state.status)) return Status();
  std::vector<EventDraft> drafts;
  for (const auto& [key, step] : state.steps) {
    // A tool declared without side effects that never completed may simply run again:
    // nothing outside the run can have changed. Only a side effect's lost outcome needs an
    // operator.
    if (!step_kind_row(step.kind).live_call || step.has_terminal() || step.in_flight ||
        step.retry_armed || step.open_seq == 0 || !step.side_effect) {
      continue;
    }
    drafts.push_back({std::string(ev::kToolCompleted),
                      with_request_hash(Json::object({{"step_key", key},
                                                      {"outcome", "unknown_outcome"},
                                                      {"error",
                                                       "the process stopped while the "
                                                       "tool ran"}}),
                                        step)});
  }
  if (drafts.empty()) return Status();
  ARTANA_RETURN_IF_ERROR(append(state, drafts).status());
  for (const EventDraft& draft : drafts) {
    const Json* key = draft.payload.find("step_key");
    const std::string step = key != nullptr && key->is_string() ? key->as_string() : "?";
    kernel_log().warn(
        "unknown outcome run={} step_key={}: the process stopped during a side effect; "
        "reconcile it: {}",
        state.run_id.str(), step, reconcile_command(state.run_id, step));
  }
  return Status();
}

Status Kernel::reconcile(const std::string& operator_id, const RunId& run,
                         const std::string& step_key, const ReconcileDecision& decision) {
  if (operator_id.empty()) return Status::invalid_argument("reconcile needs an operator id");
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, load(run));
  std::lock_guard<std::mutex> lock(state->mu);
  auto found = state->steps.find(step_key);
  if (found == state->steps.end() || found->second.kind != StepKind::kTool) {
    return Status::not_found("run '{}' has no tool step '{}'", run.str(), step_key);
  }
  StepRecord& step = found->second;
  // Unknown: recorded so, or requested and never completed (not in flight here, no retry
  // pending).
  const bool unknown = step.has_terminal()
                           ? step.end == StepEnd::kUnknown
                           : step.recorded() && !step.in_flight && !step.retry_armed;
  if (!unknown) {
    return Status::failed_precondition(
        "tool step '{}' of run '{}' has a known outcome; only an unknown outcome is reconciled",
        step_key, run.str());
  }
  EventDraft draft;
  switch (decision.kind) {
    case ReconcileDecision::Kind::kRetry:
      draft = {std::string(ev::kToolReconciled),
               Json::object({{"step_key", step_key}, {"decision", "retry"}, {"by", operator_id}})};
      break;
    case ReconcileDecision::Kind::kSuccess:
      draft = {std::string(ev::kToolCompleted),
               with_request_hash(Json::object({{"step_key", step_key},
                                               {"outcome", "success"},
                                               {"result", decision.result},
                                               {"decision", "success"},
                                               {"by", operator_id}}),
                                 step)};
      break;
    case ReconcileDecision::Kind::kFailed:
    case ReconcileDecision::Kind::kAbandon: {
      const bool abandon = decision.kind == ReconcileDecision::Kind::kAbandon;
      draft = {std::string(ev::kToolCompleted),
               with_request_hash(
                   Json::object({{"step_key", step_key},
                                 {"outcome", "permanent_error"},
                                 {"error", abandon ? std::string("abandoned by the operator")
                                                   : decision.error},
                                 {"decision", abandon ? "abandon" : "failed"},
                                 {"by", operator_id}}),
                   step)};
      break;
    }
  }
  ARTANA_RETURN_IF_ERROR(append(*state, event_drafts(std::move(draft))).status());
  if (state->halt && state->halt->error_kind() == ErrorKind::kReconciliationRequired &&
      state->halt->step_key() == step_key) {
    state->halt.reset();
  }
  return Status();
}

}  // namespace artana::kernel
