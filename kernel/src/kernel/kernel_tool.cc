// Kernel: tool steps — two-phase (request committed before the tool runs), replay,
// unknown outcomes and the operator's reconciliation.
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel.h"
#include "artana/kernel/sha256.h"
#include "kernel/active_run.h"
#include "kernel/drift.h"
#include "kernel/event_types.h"
#include "kernel/model_identity.h"
#include "kernel/pending_step.h"
#include "kernel/run_state.h"
#include "middleware/pii_redactor.h"

namespace artana::kernel {
namespace {

// A tool declared without side effects (recorded in its request) that never completed may
// simply run again: nothing outside the run can have changed. Only a side-effecting tool's
// lost outcome needs an operator.
bool may_run_again(const StepRecord& step) { return !step.side_effect; }

namespace ev = events;

// SHA-256 of the canonical JSON array [run_id, tool_name, step_key]: the same logical call
// has the same key in every attempt and every process, whatever else the run recorded.
Result<std::string> idempotency_key(const RunId& run, const std::string& tool,
                                    const std::string& step_key) {
  ARTANA_ASSIGN_OR_RETURN(std::string canonical,
                          canonical_json(Json::array({run.str(), tool, step_key})));
  return Sha256::of(canonical).hex();
}

Result<ToolResult> recorded_tool(const RunState& state, const std::string& step_key,
                                 const RecordedTerminal& terminal) {
  const Json* outcome_name = terminal.payload.find("outcome");
  if (outcome_name == nullptr || !outcome_name->is_string()) {
    return Status::corruption("run '{}' step '{}': tool_completed at seq {} has no outcome",
                              state.run_id.str(), step_key, terminal.seq);
  }
  ARTANA_ASSIGN_OR_RETURN(ToolOutcomeKind outcome, parse_tool_outcome(outcome_name->as_string()));
  ToolResult result;
  result.run_id = state.run_id;
  result.outcome = outcome;
  if (const Json* v = terminal.payload.find("result")) result.result = *v;
  result.replayed = true;
  result.seq = terminal.seq;
  return result;
}

Status tool_failure(const std::string& step_key, const RecordedTerminal& terminal) {
  const Json* error = terminal.payload.find("error");
  const Json* outcome = terminal.payload.find("outcome");
  return Status::failed_precondition(
             "tool step '{}' ended with {} (seq {}): {}", step_key,
             outcome != nullptr && outcome->is_string() ? outcome->as_string() : "an error",
             terminal.seq, error != nullptr && error->is_string() ? error->as_string() : "")
      .with_kind(error_kind::kToolFailed, step_key);
}

}  // namespace

Result<ToolStep> Kernel::begin_tool(const TenantId& caller, const RunId& run,
                                    const ToolRequest& request) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, request.step_key));
  return begin_tool_locked(active_run.state, request, 0);
}

Result<ToolStep> Kernel::begin_tool_locked(std::shared_ptr<RunState> state,
                                           const ToolRequest& request, int depth) {
  if (state->halt) return *state->halt;
  const std::string& key = request.step_key;
  // Held until the call finishes: `tool` points into it, and set_run_tools may replace the
  // run's registry meanwhile.
  std::shared_ptr<const ToolRegistry> run_tools = state->tools;
  const RegisteredTool* tool = (run_tools ? *run_tools : tools_).find(request.tool);
  if (tool == nullptr) {
    return Status::invalid_argument("step '{}' calls tool '{}', which is not registered", key,
                                    request.tool);
  }
  // Bad arguments are the caller's error, found before anything is appended.
  ARTANA_RETURN_IF_ERROR(tool->validate_arguments(request.arguments));
  auto found = state->steps.find(key);
  // The ledger gets the arguments with PII replaced; the tool itself gets the real ones.
  Json recorded_arguments = request.arguments;
  Json arguments_pii = Json::object();
  if (pii_) {
    arguments_pii = scrub_pii(state->pii, recorded_arguments,
                              found != state->steps.end() ? ScrubMode::kReplay : ScrubMode::kLive);
  }
  ARTANA_ASSIGN_OR_RETURN(RequestIdentity identity,
                          request_identity(Json::object({{"tool", request.tool},
                                                         {"version", tool->spec.version},
                                                         {"signature", tool->signature},
                                                         {"arguments", recorded_arguments}}),
                                           "request"));

  if (found != state->steps.end()) {
    StepRecord& recorded = found->second;
    if (recorded.in_flight) {
      return Status::failed_precondition("step '{}' of run '{}' is already in flight", key,
                                         state->run_id.str());
    }
    if (recorded.kind != "tool") {
      return halt(
          *state,
          Status::failed_precondition(
              "step '{}' was recorded as a {} step, now called as a tool step", key, recorded.kind)
              .with_kind(error_kind::kReplayDrift, key),
          RunStatus::kNeedsAttention, Json::object());
    }
    if (!recorded.request_hash.empty() && recorded.request_hash != identity.hash &&
        (recorded.terminal || !recorded.retry_armed)) {
      ARTANA_ASSIGN_OR_RETURN(DriftDecision drift,
                              resolve_drift(*state, key, request.replay.value_or(state->policy),
                                            recorded, identity, depth));
      if (drift.fork) {
        std::lock_guard<std::mutex> fork_lock(drift.fork->mu);
        return begin_tool_locked(drift.fork, request, depth + 1);
      }
      if (!recorded.terminal) return Status::internal("drifted tool step without a terminal");
      ARTANA_ASSIGN_OR_RETURN(ToolResult result, recorded_tool(*state, key, *recorded.terminal));
      state->reached(key, *recorded.terminal);
      if (result.outcome != ToolOutcomeKind::kSuccess) return tool_failure(key, *recorded.terminal);
      result.drift_fields = std::move(drift.fields);
      return ToolStep{std::move(result), std::nullopt};
    }
    if (recorded.terminal) {
      ARTANA_ASSIGN_OR_RETURN(ToolResult result, recorded_tool(*state, key, *recorded.terminal));
      state->reached(key, *recorded.terminal);
      switch (result.outcome) {
        case ToolOutcomeKind::kSuccess:
          return ToolStep{std::move(result), std::nullopt};
        case ToolOutcomeKind::kUnknownOutcome:
          return halt(*state,
                      Status::failed_precondition(
                          "tool step '{}' of run '{}' may or may not have run (the process "
                          "stopped during the call); reconcile it: artana reconcile {} --step "
                          "{} --retry | --outcome success|failed | --abandon",
                          key, state->run_id.str(), state->run_id.str(), key)
                          .with_kind(error_kind::kReconciliationRequired, key),
                      RunStatus::kNeedsAttention, Json::object());
        case ToolOutcomeKind::kTransientError:
          if (request.retry_failed) break;  // live again below
          return tool_failure(key, *recorded.terminal);
        case ToolOutcomeKind::kPermanentError:
          return tool_failure(key, *recorded.terminal);
      }
    } else if (!recorded.retry_armed && !may_run_again(recorded)) {
      // Requested, never completed, and not running here: the process died in the call.
      ARTANA_RETURN_IF_ERROR(settle_unknown_outcomes(*state));
      return begin_tool_locked(state, request, depth);
    }
    // A tool without side effects whose process died in the call simply runs again.
  } else if (state->status == RunStatus::kCompleted) {
    return never_live(*state, key);
  }

  // Live: judged, then the request is committed (synced before a side effect) before the
  // tool runs.
  ARTANA_ASSIGN_OR_RETURN(std::string idem, idempotency_key(state->run_id, request.tool, key));
  ToolCall call;
  call.run_id = state->run_id;
  call.tenant_id = state->tenant.tenant_id;
  call.step_key = key;
  call.tool = request.tool;
  call.arguments = request.arguments;
  call.idempotency_key = idem;
  call.side_effect = tool->spec.side_effect;
  if (capability_guard_ && !tool->spec.capability.empty() &&
      !state->tenant.has_capability(tool->spec.capability)) {
    // Audited per attempt; the step stays open, so a grant and a resume retry it live.
    Json payload = Json::object({{"step_key", key},
                                 {"kind", error_kind::kCapabilityDenied},
                                 {"middleware", "capability_guard"},
                                 {"tool", request.tool},
                                 {"capability", tool->spec.capability}});
    ARTANA_RETURN_IF_ERROR(
        append(*state, {{std::string(ev::kStepDenied), std::move(payload)}}).status());
    return Status::permission_denied("tool '{}' needs capability '{}', which tenant '{}' lacks",
                                     request.tool, tool->spec.capability,
                                     state->tenant.tenant_id.str())
        .with_kind(error_kind::kCapabilityDenied, key);
  }
  ARTANA_RETURN_IF_ERROR(judge(*state, key, nullptr, &call));
  Json requested = Json::object({{"step_key", key},
                                 {"tool", request.tool},
                                 {"version", tool->spec.version},
                                 {"signature", tool->signature},
                                 {"arguments", std::move(recorded_arguments)},
                                 {"idempotency_key", idem},
                                 {"side_effect", tool->spec.side_effect},
                                 {"request_hash", identity.hash},
                                 {"request", identity.request}});
  if (arguments_pii.size() > 0) requested.set("pii_allocated", std::move(arguments_pii));
  ARTANA_RETURN_IF_ERROR(append(*state, {{std::string(ev::kToolRequested), std::move(requested)}},
                                std::nullopt, /*barrier=*/tool->spec.side_effect)
                             .status());
  StepRecord& step = state->steps[key];
  step.in_flight = true;
  auto pending = std::make_unique<PendingTool>();
  pending->state = state;
  pending->step_key = key;
  pending->request_hash = identity.hash;
  pending->registry = std::move(run_tools);
  {
    std::lock_guard<std::mutex> lock(mu_);
    call.ticket = next_ticket_++;
    pending_tools_.emplace(call.ticket, std::move(pending));
  }
  return ToolStep{std::nullopt, std::move(call)};
}

Result<ToolResult> Kernel::finish_tool(uint64_t ticket, const ToolOutcome& outcome) {
  std::unique_ptr<PendingTool> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_tools_.find(ticket);
    if (it == pending_tools_.end()) {
      return Status::invalid_argument("tool ticket {} is not pending (finished already?)", ticket);
    }
    pending = std::move(it->second);
    pending_tools_.erase(it);
  }
  RunState& state = *pending->state;
  std::lock_guard<std::mutex> lock(state.mu);
  const std::string& key = pending->step_key;
  state.steps[key].in_flight = false;
  Json completed = Json::object({{"step_key", key},
                                 {"request_hash", pending->request_hash},
                                 {"outcome", tool_outcome_name(outcome.kind)}});
  if (outcome.kind == ToolOutcomeKind::kSuccess) {
    Json result = outcome.result;
    if (pii_) {
      Json allocated = scrub_pii(state.pii, result, ScrubMode::kLive);
      if (allocated.size() > 0) completed.set("pii_allocated", std::move(allocated));
    }
    completed.set("result", std::move(result));
  } else {
    completed.set("error", outcome.error);
  }
  ARTANA_RETURN_IF_ERROR(
      append(state, {{std::string(ev::kToolCompleted), std::move(completed)}}).status());
  const RecordedTerminal& terminal = *state.steps[key].terminal;
  if (outcome.kind != ToolOutcomeKind::kSuccess) return tool_failure(key, terminal);
  ARTANA_ASSIGN_OR_RETURN(ToolResult result, recorded_tool(state, key, terminal));
  result.replayed = false;
  return result;
}

Status Kernel::settle_unknown_outcomes(RunState& state) {
  std::vector<EventDraft> drafts;
  for (const auto& [key, step] : state.steps) {
    if (step.kind != "tool" || step.terminal || step.in_flight || step.retry_armed ||
        step.request_seq == 0 || may_run_again(step)) {
      continue;
    }
    drafts.push_back({std::string(ev::kToolCompleted),
                      Json::object({{"step_key", key},
                                    {"request_hash", step.request_hash},
                                    {"outcome", "unknown_outcome"},
                                    {"error", "the process stopped while the tool ran"}})});
  }
  if (drafts.empty()) return Status();
  return append(state, std::move(drafts)).status();
}

Status Kernel::reconcile(const std::string& operator_id, const RunId& run,
                         const std::string& step_key, const ReconcileDecision& decision) {
  if (operator_id.empty()) return Status::invalid_argument("reconcile needs an operator id");
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, load(run));
  std::lock_guard<std::mutex> lock(state->mu);
  auto found = state->steps.find(step_key);
  if (found == state->steps.end() || found->second.kind != "tool") {
    return Status::not_found("run '{}' has no tool step '{}'", run.str(), step_key);
  }
  StepRecord& step = found->second;
  const Json* outcome = step.terminal ? step.terminal->payload.find("outcome") : nullptr;
  const bool unknown = step.terminal ? (outcome != nullptr && outcome->is_string() &&
                                        outcome->as_string() == "unknown_outcome")
                                     : !step.in_flight && !step.retry_armed;
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
      draft = {std::string(ev::kToolCompleted), Json::object({{"step_key", step_key},
                                                              {"request_hash", step.request_hash},
                                                              {"outcome", "success"},
                                                              {"result", decision.result},
                                                              {"decision", "success"},
                                                              {"by", operator_id}})};
      break;
    case ReconcileDecision::Kind::kFailed:
    case ReconcileDecision::Kind::kAbandon: {
      const bool abandon = decision.kind == ReconcileDecision::Kind::kAbandon;
      draft = {std::string(ev::kToolCompleted),
               Json::object(
                   {{"step_key", step_key},
                    {"request_hash", step.request_hash},
                    {"outcome", "permanent_error"},
                    {"error", abandon ? std::string("abandoned by the operator") : decision.error},
                    {"decision", abandon ? "abandon" : "failed"},
                    {"by", operator_id}})};
      break;
    }
  }
  ARTANA_RETURN_IF_ERROR(append(*state, {std::move(draft)}).status());
  if (state->halt && state->halt->kind() == error_kind::kReconciliationRequired &&
      state->halt->step_key() == step_key) {
    state->halt.reset();
  }
  return Status();
}

}  // namespace artana::kernel
