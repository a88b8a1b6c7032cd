#include "kernel/run_state.h"

#include <algorithm>

#include "kernel/event_types.h"

namespace artana::kernel {
namespace {

const std::string* string_field(const Json& payload, std::string_view name) {
  const Json* v = payload.find(name);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

// The step kind a value step's terminal records, or nullptr (kernel_value.cc).
const char* value_step_kind(std::string_view type) {
  namespace ev = events;
  if (type == ev::kTimeRead) return "time";
  if (type == ev::kRandomRead) return "random";
  if (type == ev::kStepCompleted) return "step";
  if (type == ev::kVersionMarker) return "version";
  if (type == ev::kArtifactRead) return "artifact_read";
  return nullptr;
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
  } else if (event.type == ev::kSleepStarted && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    step.kind = "sleep";
    step.request = p;
    step.request_seq = event.seq;
    if (const Json* due = p.find("due_at_us"); due != nullptr && due->is_integer()) {
      sleeps_due.emplace(due->as_integer(), *step_key);
    }
  } else if (event.type == ev::kSleepCompleted && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    if (step.kind.empty()) step.kind = "sleep";
    step.terminal = RecordedTerminal{event.type, event.seq, p};
    if (const Json* due = step.request.find("due_at_us"); due != nullptr && due->is_integer()) {
      sleeps_due.erase({due->as_integer(), *step_key});
    }
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
  } else if (event.type == ev::kModelRequested && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    step.kind = "model";
    if (const std::string* hash = string_field(p, "request_hash")) step.request_hash = *hash;
    if (const Json* request = p.find("request")) step.request = *request;
    const Json* side_effect = p.find("side_effect");
    step.side_effect = side_effect == nullptr || !side_effect->is_bool() || side_effect->as_bool();
    step.request_seq = event.seq;
  } else if ((event.type == ev::kModelCompleted || event.type == ev::kModelFailed ||
              event.type == ev::kPauseResumed) &&
             step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    if (step.kind.empty()) step.kind = event.type == ev::kPauseResumed ? "pause" : "model";
    step.terminal = RecordedTerminal{event.type, event.seq, p};
    if (event.type == ev::kPauseResumed && open_pause == *step_key) open_pause.reset();
  } else if (event.type == ev::kToolRequested && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    step.kind = "tool";
    if (const std::string* hash = string_field(p, "request_hash")) step.request_hash = *hash;
    if (const Json* request = p.find("request")) step.request = *request;
    const Json* side_effect = p.find("side_effect");
    step.side_effect = side_effect == nullptr || !side_effect->is_bool() || side_effect->as_bool();
    step.request_seq = event.seq;
    step.terminal.reset();  // a new attempt (reconciled retry) starts open
  } else if (event.type == ev::kToolCompleted && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    if (step.kind.empty()) step.kind = "tool";
    step.terminal = RecordedTerminal{event.type, event.seq, p};
    step.retry_armed = false;
  } else if (event.type == ev::kToolReconciled && step_key != nullptr) {
    // Only `retry` is a tool_reconciled event; it reopens the step for one live attempt.
    StepRecord& step = steps[*step_key];
    step.terminal.reset();
    step.retry_armed = true;
  } else if (step_key != nullptr && value_step_kind(event.type) != nullptr) {
    StepRecord& step = steps[*step_key];
    step.kind = value_step_kind(event.type);
    step.request_seq = event.seq;
    step.terminal = RecordedTerminal{event.type, event.seq, p};
  } else if (event.type == ev::kRunSummary && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    step.kind = "summary";
    step.request_seq = event.seq;
    step.terminal = RecordedTerminal{event.type, event.seq, p};
  } else if (event.type == ev::kRunPaused && step_key != nullptr) {
    StepRecord& step = steps[*step_key];
    step.kind = "pause";
    step.request = p;
    step.request_seq = event.seq;
    open_pause = *step_key;
  } else if (event.type == ev::kReplayedWithDrift && step_key != nullptr) {
    if (const std::string* hash = string_field(p, "request_hash")) {
      steps[*step_key].drift_noted.insert(*hash);
    }
    if (const std::string* fork = string_field(p, "fork_run_id")) fork_run_id = RunId(*fork);
  } else if (event.type == ev::kRunHalted && step_key != nullptr) {
    const std::string* hash = string_field(p, "request_hash");
    halts_noted.insert(*step_key + '\0' + (hash ? *hash : std::string()));
  }
  return Status();
}

}  // namespace artana::kernel
