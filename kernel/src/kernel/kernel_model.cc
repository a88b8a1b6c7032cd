// Kernel: model steps — replay from the step index, drift policies, forks, live calls.
#include "artana/kernel/kernel.h"
#include "json_schema/schema_cache.h"
#include "kernel/event_types.h"
#include "kernel/model_identity.h"
#include "kernel/step_machine.h"
#include "kernel/tenant_facts.h"
#include "middleware/capability_rule.h"
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

// A model_failed's `category` for an output that did not match the step's schema.
constexpr std::string_view kInvalidOutput = "invalid_output";

Status recorded_failure(const std::string& step_key, const RecordedTerminal& terminal) {
  const Json* error = terminal.payload.find("error");
  const Json* message = error != nullptr ? error->find("message") : nullptr;
  const Json* category = error != nullptr ? error->find("category") : nullptr;
  const bool invalid =
      category != nullptr && category->is_string() && category->as_string() == kInvalidOutput;
  return Status::unavailable(
             "model step '{}' failed (recorded at seq {}): {}; call it with "
             "retry_failed to try again",
             step_key, terminal.seq,
             message != nullptr && message->is_string() ? message->as_string() : "no message")
      .with_kind(invalid ? ErrorKind::kModelOutputInvalid : ErrorKind::kModelFailed, step_key);
}

}  // namespace

Result<ModelStep> Kernel::begin_model(const TenantId& caller, const RunId& run,
                                      const ModelRequest& original) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, original.step_key));
  const std::string& key = original.step_key;
  // PII is replaced before anything is hashed, recorded or sent. A recorded step is scrubbed
  // in replay order so it gets the placeholders it was recorded with. Copied only to
  // rewrite: a long message history is not copied on every replayed step.
  ModelRequest scrubbed;
  Json request_pii = Json::object();
  Json call_tools = Json::array();
  auto prepare = [&](RunState& state, bool recorded) -> Result<RequestIdentity> {
    if (pii_) {
      scrubbed = original;
      const ScrubMode mode = recorded ? ScrubMode::kReplay : ScrubMode::kLive;
      if (scrubbed.prompt) {
        Json prompt(*scrubbed.prompt);
        request_pii = scrub_pii(state.pii, prompt, mode);
        scrubbed.prompt = prompt.as_string();
      }
      if (scrubbed.messages) request_pii = scrub_pii(state.pii, *scrubbed.messages, mode);
    }
    const ModelRequest& request = pii_ ? scrubbed : original;
    // The tools offered, as signatures; tools the tenant lacks are not offered at all.
    const ToolRegistry& registry = registry_for(state);
    Json offered = Json::array();
    call_tools = Json::array();
    for (const std::string& name : request.tools) {
      const RegisteredTool* tool = registry.find(name);
      if (tool == nullptr) {
        return Status::invalid_argument("step '{}' offers tool '{}', which is not registered", key,
                                        name);
      }
      if (capability_refused(state.tenant, tool->spec.capability,
                             CapabilityOptions{capabilities_only_listed_})) {
        continue;  // the tenant lacks it: the model never hears of it
      }
      offered.push_back(Json::object({{"name", name}, {"signature", tool->signature}}));
      call_tools.push_back(Json::object({{"name", name},
                                         {"description", tool->spec.description},
                                         {"arguments", tool->spec.arguments}}));
    }
    return model_request_identity(request, std::move(offered));
  };
  const StepQuery query{key, StepKind::kModel, original.replay.value_or(active_run.state->policy),
                        original.retry_failed, prepare};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(active_run, query));
  RunState& state = *active_run.state;
  if (decision.verdict != StepDecision::Verdict::kLive) {
    const RecordedTerminal& terminal = decision.terminal;
    if (terminal.type == ev::kModelFailed) return recorded_failure(key, terminal);
    ModelResult result = recorded_result(state, terminal);
    result.drift_fields = std::move(decision.drift_fields);
    return ModelStep{std::move(result), std::nullopt, PendingStep()};
  }

  // Live.
  const ModelRequest& request = pii_ ? scrubbed : original;
  ModelCall call;
  call.run_id = state.run_id;
  call.step_key = key;
  call.model = request.model;
  call.prompt = request.prompt;
  call.messages = request.messages;
  call.options = request.options;
  call.output_schema = request.output_schema;
  call.tools = std::move(call_tools);
  if (call.output_schema) {
    // A schema that cannot be used is the caller's error, found before the call is made.
    ARTANA_RETURN_IF_ERROR(schemas_->get(*call.output_schema).status());
  }
  ARTANA_RETURN_IF_ERROR(judge(state, key, StepKind::kModel, &call, nullptr));
  LiveEntry entry;
  entry.step_key = key;
  entry.kind = StepKind::kModel;
  entry.identity = std::move(decision.identity);
  entry.model_call = call;
  entry.request_pii = std::move(request_pii);
  PendingStep pending = open_live(active_run.state, std::move(entry));
  return ModelStep{std::nullopt, std::move(call), std::move(pending)};
}

Result<ModelResult> Kernel::finish_model(PendingStep step, const ModelOutcome& outcome) {
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<LiveEntry> pending, take_live(step, StepKind::kModel));
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
  LedgerTenantFacts known(store_, state.tenant.tenant_id);
  StepContext ctx{state.run_id, state.tenant, key, state.spend_micro_usd, &known};
  std::vector<std::string> learned;
  for (const auto& m : middleware_) {
    for (std::string& fact : m->observe_model(ctx, pending->model_call, outcome)) {
      learned.push_back(std::move(fact));
    }
  }
  // Kept with the step that taught them, in its append: no process forgets them.
  std::function<Status(AppendTxn&)> keep_facts;
  if (!learned.empty()) {
    keep_facts = [&learned, tenant = state.tenant.tenant_id](AppendTxn& txn) -> Status {
      for (const std::string& fact : learned) {
        ARTANA_RETURN_IF_ERROR(
            txn.put_index(kTenantFactsSpace, tenant_fact_key(tenant, fact), "1"));
      }
      return Status();
    };
  }
  Json requested = Json::object({{"step_key", key},
                                 {"request_hash", pending->identity.hash},
                                 {"request", pending->identity.request}});
  if (pending->request_pii.size() > 0) requested.set("pii_allocated", pending->request_pii);
  Json terminal = Json::object({{"step_key", key}, {"request_hash", pending->identity.hash}});
  std::string terminal_type;
  // An output that misses the step's schema is the step's failure, recorded as such: a
  // replay raises the same error, and retry_failed asks the model again.
  Status output_valid;
  if (outcome.ok && pending->model_call.output_schema) {
    auto schema = schemas_->get(*pending->model_call.output_schema);
    output_valid = schema.ok() ? schema->validate(outcome.output, "output") : schema.status();
  }
  if (outcome.ok && output_valid.ok()) {
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
  } else if (outcome.ok) {
    terminal_type = ev::kModelFailed;
    terminal.set("error", Json::object({{"message",
                                         "the model's output does not match the "
                                         "step's schema: " +
                                             output_valid.message()},
                                        {"transient", false},
                                        {"category", kInvalidOutput}}));
    // The call was made: what it cost counts.
    terminal.set("cost_micro_usd", outcome.cost_micro_usd.value_or(0));
  } else {
    terminal_type = ev::kModelFailed;
    terminal.set("error",
                 Json::object({{"message", outcome.error}, {"transient", outcome.transient}}));
  }
  // A model call is safe to repeat after a crash, so its request is committed with its
  // terminal in one append.
  ARTANA_ASSIGN_OR_RETURN(AppendResult appended,
                          append(state,
                                 {{std::string(ev::kModelRequested), std::move(requested)},
                                  {terminal_type, std::move(terminal)}},
                                 std::nullopt, false, std::move(keep_facts)));
  const RecordedTerminal recorded = recorded_terminal(std::move(appended.events.back()));
  if (recorded.type == ev::kModelFailed) return recorded_failure(key, recorded);
  ModelResult result = recorded_result(state, recorded);
  result.replayed = false;
  return result;
}

}  // namespace artana::kernel
