// Kernel: model steps — replay from the step index, drift policies, forks, live calls.
#include "artana/kernel/kernel.h"
#include "json_schema/schema_cache.h"
#include "kernel/event_types.h"
#include "kernel/model_identity.h"
#include "kernel/step_machine.h"
#include "kernel/tenant_facts.h"

namespace artana::kernel {
namespace {

namespace ev = events;

// The terminal is consumed: its values are moved into the result, or its text when it was
// kept unparsed (ModelRequest::result_as_text).
ModelResult recorded_result(const RunState& state, RecordedTerminal&& terminal) {
  ModelResult result;
  result.run_id = state.run_id;
  result.replayed = true;
  result.seq = terminal.seq;
  if (!terminal.text.empty()) {
    result.recorded_payload = std::move(terminal.text);
    return result;
  }
  Json& p = terminal.payload;
  if (Json* v = p.find("output")) result.output = std::move(*v);
  if (Json* v = p.find("usage")) result.usage = std::move(*v);
  if (Json* v = p.find("tool_calls")) result.tool_calls = std::move(*v);
  if (const Json* v = p.find("cost_micro_usd"); v != nullptr && v->is_integer()) {
    result.cost_micro_usd = v->as_integer();
  }
  return result;
}

// The kind a script sees for a recorded model_failed, by its `category`.
ErrorKind failure_kind(const Json* category) {
  if (category == nullptr || !category->is_string()) return ErrorKind::kModelFailed;
  const std::string& name = category->as_string();
  if (name == failure_category_name(FailureCategory::kInvalidOutput)) {
    return ErrorKind::kModelOutputInvalid;
  }
  if (name == failure_category_name(FailureCategory::kRefused)) return ErrorKind::kModelRefused;
  return ErrorKind::kModelFailed;
}

Status recorded_failure(const std::string& step_key, const RecordedTerminal& terminal) {
  const Json* error = terminal.payload.find("error");
  const Json* message = error != nullptr ? error->find("message") : nullptr;
  const Json* category = error != nullptr ? error->find("category") : nullptr;
  return Status::unavailable(
             "model step '{}' failed (recorded at seq {}): {}; call it with "
             "retry_failed to try again",
             step_key, terminal.seq,
             message != nullptr && message->is_string() ? message->as_string() : "no message")
      .with_kind(failure_kind(category), step_key);
}

// What a failed call still recorded: the tokens billed and their cost (counted in the
// run's totals), and how the call went. A call that answered (`ok`, the output refused by
// its schema) was billed even when its cost is unknown.
void record_billed(Json& terminal, Json& error, ModelOutcome& outcome) {
  if (outcome.usage.is_object() && outcome.usage.size() > 0) {
    terminal.set("usage", std::move(outcome.usage));
  }
  if (outcome.ok || outcome.cost_micro_usd) {
    terminal.set("cost_micro_usd", outcome.cost_micro_usd.value_or(0));
  }
  if (!outcome.call.is_null()) {
    terminal.set("cost_known", outcome.cost_micro_usd.has_value());
    error.set("call", std::move(outcome.call));
  }
}

}  // namespace

Result<ModelStep> Kernel::begin_model(const TenantId& caller, const RunId& run,
                                      const ModelRequest& original) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, original.step_key));
  const std::string& key = original.step_key;
  const int texts = int{original.prompt.has_value()} + int{original.messages.has_value()} +
                    int{original.messages_source != nullptr};
  if (texts != 1) {
    return Status::invalid_argument(
        "step '{}': a model request needs exactly one of prompt and messages", key);
  }
  // What the request records: its prompt or its messages, through the request rewrites (PII
  // replaced) before anything is hashed, recorded or sent. A recorded step is rewritten in
  // replay order, so it gets the placeholders it was recorded with. Copied only when a
  // rewrite changes it: a long message history is not copied on every step. Messages from a
  // source are built only when a value is needed (original_text).
  const Json prompt = original.prompt ? Json(*original.prompt) : Json();
  std::optional<Json> built_messages;
  auto original_text = [&]() -> Result<const Json*> {
    if (original.prompt) return &prompt;
    if (original.messages) return &*original.messages;
    if (!built_messages) {
      ARTANA_ASSIGN_OR_RETURN(Json made, original.messages_source->build());
      built_messages = std::move(made);
    }
    return &*built_messages;
  };
  std::optional<Json> rewritten_text;
  Json request_pii = Json::object();
  std::vector<const RegisteredTool*> offered;
  auto prepare = [&](RunState& state, bool recorded) -> Result<RequestIdentity> {
    const ToolRegistry& registry = registry_for(state);
    offered.clear();
    for (const std::string& name : original.tools) {
      const RegisteredTool* tool = registry.find(name);
      if (tool == nullptr) {
        return Status::invalid_argument("step '{}' offers tool '{}', which is not registered", key,
                                        name);
      }
      offered.push_back(tool);
    }
    // A replayed step whose values no middleware rewrites hashes a source's messages as the
    // source writes them: the script's history is not built as a tree for every step. The
    // rewrites still run, over the tools offered only (none of them reads values).
    const bool hash_source =
        recorded && !values_rewritten_ && original.messages_source != nullptr && !built_messages;
    const Json* text_json = nullptr;
    if (!hash_source) {
      ARTANA_ASSIGN_OR_RETURN(text_json, original_text());
    }
    std::optional<StepValue> text;  // none when hashed from the source: nothing to rewrite
    if (!hash_source) text.emplace(*text_json);
    StepRequest rewrite{text ? std::span<StepValue>(&*text, 1) : std::span<StepValue>(), &offered};
    rewrite.placeholders.renumber = recorded;
    ARTANA_RETURN_IF_ERROR(rewrite_request(state, key, StepKind::kModel, rewrite));
    rewritten_text.reset();
    if (text && text->edited()) rewritten_text = text->take();
    request_pii = std::move(rewrite.placeholders.allocated);
    // The tools offered (those the rewrites left), as signatures.
    Json offered_json = Json::array();
    for (const RegisteredTool* tool : offered) {
      offered_json.push_back(
          Json::object({{"name", tool->spec.name}, {"signature", tool->signature}}));
    }
    return model_request_identity(original, rewritten_text ? &*rewritten_text : text_json,
                                  std::move(offered_json));
  };
  const StepQuery query{key,
                        StepKind::kModel,
                        original.replay.value_or(active_run.state->policy),
                        original.retry_failed,
                        prepare,
                        original.result_as_text,
                        original.replay_only};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(active_run, query));
  RunState& state = *active_run.state;
  if (decision.verdict == StepDecision::Verdict::kDeferred) {
    ModelStep deferred;
    deferred.deferred = true;
    return deferred;
  }
  if (decision.verdict == StepDecision::Verdict::kAdopted) {
    ModelStep adopted;
    adopted.adopted = decision.ticket;
    return adopted;
  }
  if (decision.verdict != StepDecision::Verdict::kLive) {
    RecordedTerminal& terminal = decision.terminal;
    if (terminal.type == ev::kModelFailed) {
      ARTANA_RETURN_IF_ERROR(terminal.parse(state.run_id));
      return recorded_failure(key, terminal);
    }
    ModelResult result = recorded_result(state, std::move(terminal));
    result.drift_fields = std::move(decision.drift_fields);
    return ModelStep{std::move(result), std::nullopt, PendingStep()};
  }

  // Live.
  ARTANA_ASSIGN_OR_RETURN(const Json* original_json, original_text());
  const Json& sent_text = rewritten_text ? *rewritten_text : *original_json;
  ModelCall call;
  call.run_id = state.run_id;
  call.step_key = key;
  call.model = original.model;
  if (original.prompt) {
    call.prompt = sent_text.as_string();
  } else {
    call.messages = sent_text;
  }
  call.options = original.options;
  call.output_schema = original.output_schema;
  for (const RegisteredTool* tool : offered) {
    call.tools.push_back(Json::object({{"name", tool->spec.name},
                                       {"description", tool->spec.description},
                                       {"arguments", tool->spec.arguments}}));
  }
  std::optional<JsonSchema> output_schema;
  if (call.output_schema) {
    // A schema that cannot be used is the caller's error, found before the call is made.
    ARTANA_ASSIGN_OR_RETURN(output_schema, schemas_->get(*call.output_schema));
  }
  StepValue sent(sent_text);
  StepRequest judged{std::span<StepValue>(&sent, 1)};
  judged.model = &call;
  ARTANA_RETURN_IF_ERROR(judge(state, key, StepKind::kModel, judged));
  LiveEntry entry;
  entry.step_key = key;
  entry.kind = StepKind::kModel;
  decision.identity.request();  // built now: it refers to this call's request
  entry.identity = std::move(decision.identity);
  entry.model = call.model;
  entry.output_schema = std::move(output_schema);
  entry.request_pii = std::move(request_pii);
  ARTANA_ASSIGN_OR_RETURN(PendingStep pending, open_live(active_run.state, std::move(entry)));
  return ModelStep{std::nullopt, std::move(call), std::move(pending)};
}

Status Kernel::check_model_output(const PendingStep& step, const Json& output) const {
  std::lock_guard<std::mutex> lock(held_->mu);
  const LiveEntry* entry = held_->live.find(step.ticket());
  if (entry == nullptr || entry->kind != StepKind::kModel) {
    return Status::invalid_argument("that model step is not pending here (finished already?)");
  }
  const std::optional<JsonSchema>& schema = entry->output_schema;
  return schema ? schema->validate(output, "output") : Status();
}

Result<ModelResult> Kernel::finish_model(PendingStep step, ModelOutcome outcome) {
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<LiveEntry> pending, take_live(step, StepKind::kModel));
  RunState& state = *pending->state;
  std::lock_guard<std::mutex> lock(state.mu);
  const std::string& key = pending->step_key;
  state.steps[key].in_flight = false;
  ARTANA_RETURN_IF_ERROR(ended_during_call(state, key));
  if (outcome.ok && (!outcome.usage.is_object() || !outcome.tool_calls.is_array())) {
    return Status::invalid_argument("step '{}': usage must be an object and tool_calls an array",
                                    key);
  }
  if (outcome.cost_micro_usd && *outcome.cost_micro_usd < 0) {
    return Status::invalid_argument("step '{}': cost cannot be negative", key);
  }
  Json requested = Json::object_of(Json::Member("step_key", key),
                                   Json::Member("request_hash", pending->identity.hex()),
                                   Json::Member("request", pending->identity.take_request()));
  if (pending->request_pii.size() > 0) requested.set("pii_allocated", pending->request_pii);
  // Room for every member up front: each set() below would otherwise regrow the object.
  Json::Object members;
  members.reserve(8);
  members.emplace_back("step_key", key);
  members.emplace_back("request_hash", pending->identity.hex());
  Json terminal(std::move(members));
  std::string terminal_type;
  StepResult rewrite;
  rewrite.model = pending->model;
  rewrite.model_outcome = &outcome;
  // An output that misses the step's schema is the step's failure, recorded as such: a
  // replay raises the same error, and retry_failed asks the model again.
  Status output_valid;
  if (outcome.ok && pending->output_schema) {
    output_valid = pending->output_schema->validate(outcome.output, "output");
  }
  if (outcome.ok && output_valid.ok()) {
    terminal_type = ev::kModelCompleted;
    StepValue returned[] = {StepValue(&outcome.output), StepValue(&outcome.tool_calls)};
    rewrite.values = returned;
    rewrite_result(state, key, StepKind::kModel, rewrite);
    record_placeholders(terminal, std::move(rewrite.placeholders.allocated));
    terminal.set("output", std::move(outcome.output));
    terminal.set("usage", std::move(outcome.usage));
    terminal.set("tool_calls", std::move(outcome.tool_calls));
    terminal.set("cost_micro_usd", outcome.cost_micro_usd.value_or(0));
    terminal.set("cost_known", outcome.cost_micro_usd.has_value());
    if (!outcome.call.is_null()) terminal.set("call", std::move(outcome.call));
  } else {
    terminal_type = ev::kModelFailed;
    std::optional<FailureCategory> category = outcome.category;
    std::string message = std::move(outcome.error);
    if (outcome.ok) {
      category = FailureCategory::kInvalidOutput;
      message = "the model's output does not match the step's schema: " + output_valid.message();
    }
    const bool transient = category ? *category == FailureCategory::kTimeout ||
                                          *category == FailureCategory::kTransient
                                    : outcome.transient && !outcome.ok;
    Json error = Json::object_of(Json::Member("message", std::move(message)),
                                 Json::Member("transient", transient));
    if (category) error.set("category", failure_category_name(*category));
    record_billed(terminal, error, outcome);
    terminal.set("error", std::move(error));
  }
  // A model call is safe to repeat after a crash, so its request is committed with its
  // terminal in one append.
  ARTANA_ASSIGN_OR_RETURN(
      AppendResult appended,
      append(state,
             event_drafts(EventDraft{std::string(ev::kModelRequested), std::move(requested)},
                          EventDraft{terminal_type, std::move(terminal)}),
             std::nullopt, false, keep_tenant_facts(state.tenant.tenant_id, rewrite.facts)));
  RecordedTerminal recorded = recorded_terminal(std::move(appended.events.back()));
  if (recorded.type == ev::kModelFailed) return recorded_failure(key, recorded);
  ModelResult result = recorded_result(state, std::move(recorded));
  result.replayed = false;
  return result;
}

}  // namespace artana::kernel
