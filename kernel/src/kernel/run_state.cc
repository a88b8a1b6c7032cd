#include "kernel/run_state.h"

#include <algorithm>

#include "kernel/event_types.h"

namespace artana::kernel {
namespace {

const std::string* string_field(const Json& payload, std::string_view name) {
  const Json* v = payload.find(name);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

// How a terminal event ended its step.
StepEnd step_end(std::string_view type, const Json& payload) {
  namespace ev = events;
  if (type == ev::kModelFailed) {
    const Json* error = payload.find("error");
    const Json* transient = error != nullptr ? error->find("transient") : nullptr;
    return transient != nullptr && transient->is_bool() && transient->as_bool()
               ? StepEnd::kFailedTransient
               : StepEnd::kFailed;
  }
  if (type == ev::kToolCompleted) {
    const std::string* outcome = string_field(payload, "outcome");
    if (outcome == nullptr || *outcome == "unknown_outcome") return StepEnd::kUnknown;
    if (*outcome == "success") return StepEnd::kSucceeded;
    if (*outcome == "transient_error") return StepEnd::kFailedTransient;
    return StepEnd::kFailed;
  }
  return StepEnd::kSucceeded;
}

}  // namespace

void RunState::start_replay() {
  unreached_ = 0;
  for (auto& [key, step] : steps) {
    step.reached = false;
    unreached_ += step.terminal ? 1 : 0;
  }
}

// A flag on the step, not a set of keys: reaching a step stays O(1) however long the run.
void RunState::reached(const std::string& key, const RecordedTerminal& terminal) {
  advance_pii_counts(pii, terminal.payload.find("pii_allocated"));
  auto it = steps.find(key);
  if (it == steps.end() || it->second.reached) return;
  it->second.reached = true;
  if (unreached_ > 0) --unreached_;
}

void RunState::inherit_reached(const RunState& parent) {
  for (const auto& [key, parent_step] : parent.steps) {
    if (!parent_step.reached) continue;
    auto it = steps.find(key);
    if (it != steps.end() && it->second.terminal && !it->second.reached) {
      it->second.reached = true;
      if (unreached_ > 0) --unreached_;
    }
  }
}

Status RunState::apply(const Event& event) {
  namespace ev = events;
  const Json& p = event.payload;
  const std::string* step_key = string_field(p, "step_key");
  head_seq = std::max(head_seq, event.seq);
  if (const Json* cost = p.find("cost_micro_usd"); cost != nullptr && cost->is_integer()) {
    spend_micro_usd += cost->as_integer();
  }
  add_recorded_pii(pii, p.find("pii_allocated"));
  if (event.type == ev::kRunSummary) {
    const std::string* kind = string_field(p, "kind");
    if (kind != nullptr && kind->starts_with(ev::kArtifactKindPrefix)) {
      artifacts[kind->substr(ev::kArtifactKindPrefix.size())] = event.seq;
    }
  }
  if (event.type == ev::kRunStarted) {
    started = true;
    if (const Json* tenant_json = p.find("tenant")) {
      ARTANA_ASSIGN_OR_RETURN(tenant, TenantContext::from_json(*tenant_json));
    }
    if (const std::string* name = string_field(p, "replay_policy")) {
      ARTANA_ASSIGN_OR_RETURN(policy, parse_replay_policy(*name));
    }
    // The script always starts after run_started: its input's placeholders come first.
    advance_pii_counts(pii, p.find("pii_allocated"));
    if (const std::string* hash = string_field(p, "script_hash")) script_hash = *hash;
    if (const Json* v = p.find("input")) input = *v;
    if (const Json* v = p.find("metadata")) metadata = *v;
    if (const std::string* parent = string_field(p, "parent_run_id")) {
      parent_run_id = RunId(*parent);
    }
  } else if (event.type == ev::kScriptLoaded) {
    script_identity = p;
  } else if (event.type == ev::kBudgetRaised) {
    if (const Json* budget = p.find("budget_micro_usd"); budget && budget->is_integer()) {
      tenant.budget_micro_usd = budget->as_integer();
    }
  } else if (event.type == ev::kCapabilityGranted) {
    if (const std::string* cap = string_field(p, "capability");
        cap && !tenant.has_capability(*cap)) {
      tenant.capabilities.insert(
          std::lower_bound(tenant.capabilities.begin(), tenant.capabilities.end(), *cap), *cap);
    }
  } else if (event.type == ev::kStepDenied && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    if (!step.recorded()) {
      const std::string* kind = string_field(p, "step_kind");
      if (kind != nullptr) step.kind = parse_step_kind(*kind).value_or(step.kind);
    }
    step.denied_seq = event.seq;
    const std::string* denied = string_field(p, "kind");
    step.denied_kind = denied != nullptr
                           ? parse_error_kind(*denied).value_or(ErrorKind::kPolicyViolation)
                           : ErrorKind::kPolicyViolation;
  } else if (event.type == ev::kToolReconciled && step_key != nullptr) {
    // Only `retry` is a tool_reconciled event; it reopens the step for one live attempt,
    // used up by the attempt's tool_requested.
    StepRecord& step = steps[*step_key];
    step.terminal.reset();
    step.end = StepEnd::kOpen;
    step.retry_armed = true;
  } else if (event.type == ev::kReplayedWithDrift && step_key != nullptr) {
    if (const std::string* hash = string_field(p, "request_hash")) {
      steps[*step_key].drift_noted.insert(*hash);
    }
    if (const std::string* fork = string_field(p, "fork_run_id")) fork_run_id = RunId(*fork);
  } else if (step_key != nullptr) {
    if (std::optional<StepEventRole> role = step_event_role(event.type)) {
      apply_step_event(event, *step_key, *role);
    }
  }
  return Status();
}

void RunState::apply_step_event(const Event& event, const std::string& key, StepEventRole role) {
  namespace ev = events;
  const Json& p = event.payload;
  StepRecord& step = steps[key];
  step.kind = role.kind;
  if (!role.ends) {
    // A new attempt starts open (a reconciled retry too): the retry is used up.
    step.request_seq = event.seq;
    step.terminal.reset();
    step.end = StepEnd::kOpen;
    step.retry_armed = false;
    if (const std::string* hash = string_field(p, "request_hash")) step.request_hash = *hash;
    const Json* request = p.find("request");
    step.request = request != nullptr ? *request : p;
    // Only a tool can have side effects; an old request without the flag is assumed to.
    const Json* side_effect = p.find("side_effect");
    step.side_effect =
        role.kind == StepKind::kTool &&
        (side_effect == nullptr || !side_effect->is_bool() || side_effect->as_bool());
    if (role.kind == StepKind::kSleep) {
      if (const Json* due = p.find("due_at_us"); due != nullptr && due->is_integer()) {
        sleeps_due.emplace(due->as_integer(), key);
      }
    } else if (role.kind == StepKind::kPause) {
      open_pause = key;
    }
    return;
  }
  if (step.request_seq == 0) step.request_seq = event.seq;  // the terminal alone records it
  step.terminal = RecordedTerminal{event.type, event.seq, p};
  step.end = step_end(event.type, p);
  step.retry_armed = false;
  if (role.kind == StepKind::kSleep) {
    if (const Json* due = step.request.find("due_at_us"); due != nullptr && due->is_integer()) {
      sleeps_due.erase({due->as_integer(), key});
    }
  } else if (role.kind == StepKind::kPause && open_pause == key) {
    open_pause.reset();
  }
}

}  // namespace artana::kernel
