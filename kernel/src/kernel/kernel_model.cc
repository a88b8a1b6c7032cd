// Kernel: model steps — replay from the step index, drift policies, forks, live calls.
#include <fmt/format.h>

#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/model_identity.h"
#include "kernel/pending_step.h"
#include "kernel/run_state.h"

namespace artana::kernel {
namespace {

namespace ev = events;

// A fork of a fork of …: bounded so a script that drifts on every step cannot recurse forever.
constexpr int kMaxForkDepth = 8;

Json strings_json(const std::vector<std::string>& items) {
  Json out = Json::array();
  for (const std::string& s : items) out.push_back(s);
  return out;
}

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
  if (request.step_key.empty() || request.step_key.size() > kMaxStepKeyBytes) {
    return Status::invalid_argument("step_key must be 1..{} bytes, got {}", kMaxStepKeyBytes,
                                    request.step_key.size());
  }
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  // After fork_on_drift, execution continues in the fork: follow the chain.
  std::unique_lock<std::mutex> lock(state->mu);
  while (state->forked_to) {
    std::shared_ptr<RunState> next = state->forked_to;
    lock = std::unique_lock<std::mutex>(next->mu);
    state = std::move(next);
  }
  return begin_model_locked(state, request, 0);
}

Result<ModelStep> Kernel::begin_model_locked(std::shared_ptr<RunState> state,
                                             const ModelRequest& request, int depth) {
  if (state->halt) return *state->halt;
  const std::string& key = request.step_key;

  // The tools offered, as signatures; tools the tenant lacks are not offered at all.
  Json offered = Json::array();
  Json call_tools = Json::array();
  for (const std::string& name : request.tools) {
    const RegisteredTool* tool = tools_.find(name);
    if (tool == nullptr) {
      return Status::invalid_argument("step '{}' offers tool '{}', which is not registered", key,
                                      name);
    }
    if (!tool->spec.capability.empty() && !state->tenant.has_capability(tool->spec.capability)) {
      continue;
    }
    offered.push_back(Json::object({{"name", name}, {"signature", tool->signature}}));
    call_tools.push_back(Json::object({{"name", name},
                                       {"description", tool->spec.description},
                                       {"arguments", tool->spec.arguments}}));
  }
  ARTANA_ASSIGN_OR_RETURN(RequestIdentity identity, model_request_identity(request, offered));

  auto found = state->steps.find(key);
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
        return on_model_drift(state, request, recorded, identity, depth);
      }
      const bool failed = recorded.terminal->type == ev::kModelFailed;
      if (!failed) return ModelStep{recorded_result(*state, *recorded.terminal), std::nullopt};
      if (!request.retry_failed) return recorded_failure(key, *recorded.terminal);
    }
  } else if (state->status == RunStatus::kCompleted) {
    // A completed run never goes live again.
    Status drift = Status::failed_precondition(
                       "run '{}' is completed and never recorded step '{}'; it cannot go live",
                       state->run_id.str(), key)
                       .with_kind(error_kind::kReplayDrift, key);
    state->halt = drift;
    return drift;
  }

  // Live.
  StepRecord& step = state->steps[key];
  if (step.kind.empty()) step.kind = "model";
  step.in_flight = true;
  ModelCall call;
  call.run_id = state->run_id;
  call.step_key = key;
  call.model = request.model;
  call.prompt = request.prompt;
  call.messages = request.messages;
  call.options = request.options;
  call.output_schema = request.output_schema;
  call.tools = std::move(call_tools);
  auto pending = std::make_unique<PendingModel>();
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

Result<ModelStep> Kernel::on_model_drift(std::shared_ptr<RunState> state,
                                         const ModelRequest& request, const StepRecord& recorded,
                                         const RequestIdentity& identity, int depth) {
  const std::string& key = request.step_key;
  const std::vector<std::string> fields = drift_fields(recorded.request, identity.request);
  const ReplayPolicy policy = request.replay.value_or(state->policy);
  Json detail = Json::object({{"drift_fields", strings_json(fields)},
                              {"request_hash", identity.hash},
                              {"recorded_request_hash", recorded.request_hash}});
  if (policy == ReplayPolicy::kStrict) {
    return halt(*state,
                Status::failed_precondition(
                    "step '{}' of run '{}' was recorded with a different request ({} changed); "
                    "fix the script and resume, or allow the drift with replay = "
                    "allow_prompt_drift or fork_on_drift",
                    key, state->run_id.str(), fmt::join(fields, ", "))
                    .with_kind(error_kind::kReplayDrift, key),
                RunStatus::kNeedsAttention, detail);
  }
  if (policy == ReplayPolicy::kAllowPromptDrift) {
    if (!recorded.drift_noted.count(identity.hash)) {
      Json payload = detail;
      payload.set("step_key", key);
      ARTANA_RETURN_IF_ERROR(
          append(*state, {{std::string(ev::kReplayedWithDrift), std::move(payload)}}).status());
    }
    const RecordedTerminal& terminal = *state->steps[key].terminal;
    if (terminal.type == ev::kModelFailed) return recorded_failure(key, terminal);
    ModelResult result = recorded_result(*state, terminal);
    result.drift_fields = fields;
    return ModelStep{std::move(result), std::nullopt};
  }
  // fork_on_drift: the history before this step is shared; the step goes live in the fork.
  if (depth >= kMaxForkDepth) {
    return Status::failed_precondition("step '{}': forks nested {} deep; stop forking", key, depth)
        .with_kind(error_kind::kReplayDrift, key);
  }
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> fork,
                          fork_for(*state, recorded, identity.hash));
  if (!recorded.drift_noted.count(identity.hash)) {
    Json payload = detail;
    payload.set("step_key", key);
    payload.set("fork_run_id", fork->run_id.str());
    ARTANA_RETURN_IF_ERROR(
        append(*state, {{std::string(ev::kReplayedWithDrift), std::move(payload)}}).status());
  }
  state->forked_to = fork;
  std::lock_guard<std::mutex> fork_lock(fork->mu);
  return begin_model_locked(fork, request, depth + 1);
}

Result<std::shared_ptr<RunState>> Kernel::fork_for(RunState& parent, const StepRecord& recorded,
                                                   const std::string& request_hash) {
  RunId fork_id(parent.run_id.str() + "::fork::" + request_hash.substr(0, 12));
  // The same drift twice gives the same fork.
  if (store_.head(fork_id).ok()) return load(fork_id);
  ARTANA_ASSIGN_OR_RETURN(RunInfo parent_info, store_.head(parent.run_id));
  const uint64_t fork_seq = recorded.request_seq - 1;
  RunHeader header;
  header.run_id = fork_id;
  header.tenant_id = parent_info.header.tenant_id;
  header.script_hash = parent_info.header.script_hash;
  header.parent_run_id = parent_info.header.parent_run_id;
  header.forked_from = ForkPoint{parent.run_id, fork_seq};
  header.metadata = parent_info.header.metadata;
  ARTANA_RETURN_IF_ERROR(store_.create_run(header).status());
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> fork, load(fork_id));
  std::lock_guard<std::mutex> lock(fork->mu);
  Json payload = Json::object({{"forked_from_run_id", parent.run_id.str()},
                               {"fork_seq", static_cast<int64_t>(fork_seq)},
                               {"request_hash", request_hash}});
  ARTANA_RETURN_IF_ERROR(
      append(*fork, {{std::string(ev::kRunForked), std::move(payload)}}).status());
  return fork;
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
  Json requested = Json::object({{"step_key", key},
                                 {"request_hash", pending->identity.hash},
                                 {"request", pending->identity.request}});
  Json terminal = Json::object({{"step_key", key}, {"request_hash", pending->identity.hash}});
  std::string terminal_type;
  if (outcome.ok) {
    terminal_type = ev::kModelCompleted;
    terminal.set("output", outcome.output);
    terminal.set("usage", outcome.usage);
    terminal.set("tool_calls", outcome.tool_calls);
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
