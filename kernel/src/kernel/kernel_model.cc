// Kernel: model steps — replay from the step index, drift policies, forks, live calls.
#include "artana/kernel/kernel.h"
#include "kernel/active_run.h"
#include "kernel/drift.h"
#include "kernel/event_types.h"
#include "kernel/model_identity.h"
#include "kernel/pending_step.h"
#include "kernel/run_state.h"
#include "middleware/pii_redactor.h"

namespace artana::kernel {
namespace {

namespace ev = events;

ModelResult recorded_result(const RunState& state, const RecordedTerminal& terminal) {
  const Json& p = terminal.payload;
  ModelResult result;
  result.run_id = state.run_id;
  if (const Json* v = p.find("output")) result.output = *v;
  if (const Json* v = p.find("usage")) result.usage = *v;
  if (const Json* v = p.find("tool_calls")) result.tool_calls = *v;
  if (const Json* v = p.find("cost_micro_usd"); v != nullptr && v->is_integer()) {
    result.cost_micro_usd = v->as_integer();
  }
  result.replayed = true;
  result.seq = terminal.seq;
  return result;
}

Status recorded_failure(const std::string& step_key, const RecordedTerminal& terminal) {
  const Json* error = terminal.payload.find("error");
  const Json* message = error != nullptr ? error->find("message") : nullptr;
  return Status::unavailable(
             "model step '{}' failed (recorded at seq {}): {}; call it with "
             "retry_failed to try again",
             step_key, terminal.seq,
             message != nullptr && message->is_string() ? message->as_string() : "no message")
      .with_kind(error_kind::kModelFailed, step_key);
}

}  // namespace

Result<ModelStep> Kernel::begin_model(const TenantId& caller, const RunId& run,
                                      const ModelRequest& request) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, request.step_key));
  return begin_model_locked(active_run.state, request, 0);
}

Result<ModelStep> Kernel::begin_model_locked(std::shared_ptr<RunState> state,
                                             const ModelRequest& original, int depth) {
  if (state->halt) return *state->halt;
  const std::string& key = original.step_key;
  auto found = state->steps.find(key);
  // PII is replaced before anything is hashed, recorded or sent. A recorded step is scrubbed
  // in replay order so it gets the placeholders it was recorded with.
  // Copied only to rewrite: a long message history is not copied on every replayed step.
  ModelRequest scrubbed;
  Json request_pii = Json::object();
  if (pii_) {
    scrubbed = original;
    const ScrubMode mode = found != state->steps.end() ? ScrubMode::kReplay : ScrubMode::kLive;
    if (scrubbed.prompt) {
      Json prompt(*scrubbed.prompt);
      request_pii = scrub_pii(state->pii, prompt, mode);
      scrubbed.prompt = prompt.as_string();
    }
    if (scrubbed.messages) request_pii = scrub_pii(state->pii, *scrubbed.messages, mode);
  }
  const ModelRequest& request = pii_ ? scrubbed : original;

  // The tools offered, as signatures; tools the tenant lacks are not offered at all.
  const ToolRegistry& registry = registry_for(*state);
  Json offered = Json::array();
  Json call_tools = Json::array();
  for (const std::string& name : request.tools) {
    const RegisteredTool* tool = registry.find(name);
    if (tool == nullptr) {
      return Status::invalid_argument("step '{}' offers tool '{}', which is not registered", key,
                                      name);
    }
    if (capability_guard_ && !tool->spec.capability.empty() &&
        !state->tenant.has_capability(tool->spec.capability)) {
      continue;  // the tenant lacks it: the model never hears of it
    }
    offered.push_back(Json::object({{"name", name}, {"signature", tool->signature}}));
    call_tools.push_back(Json::object({{"name", name},
                                       {"description", tool->spec.description},
                                       {"arguments", tool->spec.arguments}}));
  }
  ARTANA_ASSIGN_OR_RETURN(RequestIdentity identity, model_request_identity(request, offered));

  if (found != state->steps.end()) {
    StepRecord& recorded = found->second;
    if (recorded.in_flight) {
      return Status::failed_precondition("step '{}' of run '{}' is already in flight", key,
                                         state->run_id.str());
    }
    if (recorded.kind != "model") {
      // A different kind at a known key is an error under every policy.
      return halt(*state,
                  Status::failed_precondition("step '{}' was recorded as a {} step, now called "
                                              "as a model step",
                                              key, recorded.kind)
                      .with_kind(error_kind::kReplayDrift, key),
                  RunStatus::kNeedsAttention, Json::object());
    }
    if (recorded.terminal) {
      if (recorded.request_hash != identity.hash) {
        ARTANA_ASSIGN_OR_RETURN(DriftDecision drift,
                                resolve_drift(*state, key, request.replay.value_or(state->policy),
                                              recorded, identity, depth));
        if (drift.fork) {
          std::lock_guard<std::mutex> fork_lock(drift.fork->mu);
          return begin_model_locked(drift.fork, request, depth + 1);
        }
        const RecordedTerminal& terminal = *recorded.terminal;
        state->reached(key, terminal);
        if (terminal.type == ev::kModelFailed) return recorded_failure(key, terminal);
        ModelResult result = recorded_result(*state, terminal);
        result.drift_fields = std::move(drift.fields);
        return ModelStep{std::move(result), std::nullopt};
      }
      const bool failed = recorded.terminal->type == ev::kModelFailed;
      state->reached(key, *recorded.terminal);
      if (!failed) return ModelStep{recorded_result(*state, *recorded.terminal), std::nullopt};
      if (!request.retry_failed) return recorded_failure(key, *recorded.terminal);
    }
  } else if (state->status == RunStatus::kCompleted) {
    // A completed run never goes live again.
    return never_live(*state, key);
  }

  // Live.
  ModelCall call;
  call.run_id = state->run_id;
  call.step_key = key;
  call.model = request.model;
  call.prompt = request.prompt;
  call.messages = request.messages;
  call.options = request.options;
  call.output_schema = request.output_schema;
  call.tools = std::move(call_tools);
  ARTANA_RETURN_IF_ERROR(judge(*state, key, &call, nullptr));
  StepRecord& step = state->steps[key];
  if (step.kind.empty()) step.kind = "model";
  step.in_flight = true;
  auto pending = std::make_unique<PendingModel>();
  pending->call = call;
  pending->request_pii = std::move(request_pii);
  pending->state = state;
  pending->step_key = key;
  pending->identity = std::move(identity);
  {
    std::lock_guard<std::mutex> lock(mu_);
    call.ticket = next_ticket_++;
    pending_.emplace(call.ticket, std::move(pending));
  }
  return ModelStep{std::nullopt, std::move(call)};
}

Result<ModelResult> Kernel::finish_model(uint64_t ticket, const ModelOutcome& outcome) {
  std::unique_ptr<PendingModel> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(ticket);
    if (it == pending_.end()) {
      return Status::invalid_argument("model ticket {} is not pending (finished already?)", ticket);
    }
    pending = std::move(it->second);
    pending_.erase(it);
  }
  RunState& state = *pending->state;
  std::lock_guard<std::mutex> lock(state.mu);
  const std::string& key = pending->step_key;
  state.steps[key].in_flight = false;
  if (outcome.ok && (!outcome.usage.is_object() || !outcome.tool_calls.is_array())) {
    return Status::invalid_argument("step '{}': usage must be an object and tool_calls an array",
                                    key);
  }
  if (outcome.cost_micro_usd && *outcome.cost_micro_usd < 0) {
    return Status::invalid_argument("step '{}': cost cannot be negative", key);
  }
  StepContext ctx{state.run_id, state.tenant, key, state.spend_micro_usd};
  for (const auto& m : middleware_) m->observe_model(ctx, pending->call, outcome);
  Json requested = Json::object({{"step_key", key},
                                 {"request_hash", pending->identity.hash},
                                 {"request", pending->identity.request}});
  if (pending->request_pii.size() > 0) requested.set("pii_allocated", pending->request_pii);
  Json terminal = Json::object({{"step_key", key}, {"request_hash", pending->identity.hash}});
  std::string terminal_type;
  if (outcome.ok) {
    terminal_type = ev::kModelCompleted;
    Json output = outcome.output;
    Json tool_calls = outcome.tool_calls;
    if (pii_) {
      Json allocated = scrub_pii(state.pii, output, ScrubMode::kLive);
      Json more = scrub_pii(state.pii, tool_calls, ScrubMode::kLive);
      for (const auto& [label, n] : more.as_object()) {
        Json* have = allocated.find(label);
        allocated.set(label, Json((have ? have->as_integer() : 0) + n.as_integer()));
      }
      if (allocated.size() > 0) terminal.set("pii_allocated", std::move(allocated));
    }
    terminal.set("output", std::move(output));
    terminal.set("usage", outcome.usage);
    terminal.set("tool_calls", std::move(tool_calls));
    terminal.set("cost_micro_usd", outcome.cost_micro_usd.value_or(0));
    terminal.set("cost_known", outcome.cost_micro_usd.has_value());
  } else {
    terminal_type = ev::kModelFailed;
    terminal.set("error",
                 Json::object({{"message", outcome.error}, {"transient", outcome.transient}}));
  }
  // A model call is safe to repeat after a crash, so its request is committed with its
  // terminal in one append.
  ARTANA_ASSIGN_OR_RETURN(AppendResult appended,
                          append(state, {{std::string(ev::kModelRequested), std::move(requested)},
                                         {terminal_type, std::move(terminal)}}));
  const StepRecord& step = state.steps[key];
  if (!outcome.ok) return recorded_failure(key, *step.terminal);
  ModelResult result = recorded_result(state, *step.terminal);
  result.replayed = false;
  return result;
}

}  // namespace artana::kernel
