#include "artana/kernel/event_index.h"

#include "artana/kernel/step_kind.h"

namespace artana::kernel {

bool is_terminal_event_type(std::string_view type) {
  // The events that end a step (kStepKinds): the kernel writes one with the step's key once
  // the step has a result a replay can return. Events that open a step never end it.
  const std::optional<StepEventRole> role = step_event_role(type);
  return role && role->ends;
}

std::string summary_index_name(std::string_view kind) {
  std::string name = "run_summary:";
  name.append(kind);
  return name;
}

Result<IndexEntries> index_event(std::string_view type, const Json& payload) {
  IndexEntries entries;
  ARTANA_ASSIGN_OR_RETURN(entries.step, step_delta(type, payload));
  if (type == "run_summary") {
    const Json* kind = payload.find("kind");
    if (kind == nullptr || !kind->is_string() || kind->as_string().empty() ||
        kind->as_string().size() > kMaxStepKeyBytes) {
      return Status::invalid_argument(
          "payload.kind: a run_summary needs a string kind of 1..{} bytes", kMaxStepKeyBytes);
    }
    entries.latest = summary_index_name(kind->as_string());
    const Json* key = payload.find("key");
    if (key == nullptr) key = payload.find("step_key");
    if (key != nullptr) {
      if (!key->is_string() || key->as_string().empty() ||
          key->as_string().size() > kMaxStepKeyBytes) {
        return Status::invalid_argument(
            "payload.key: a run_summary's key (else its step_key) is a string of 1..{} bytes",
            kMaxStepKeyBytes);
      }
      entries.summary = SummaryKey{kind->as_string(), key->as_string()};
    }
  } else if (type == "run_started" || type == "script_loaded" || type == "budget_raised" ||
             type == "cancel_requested" || type == "child_waiting") {
    entries.latest = std::string(type);
  } else if (type == "capability_granted") {
    const Json* capability = payload.find("capability");
    if (capability == nullptr || !capability->is_string() || capability->as_string().empty() ||
        capability->as_string().size() > kMaxStepKeyBytes) {
      return Status::invalid_argument(
          "payload.capability: a capability_granted needs a string capability of 1..{} bytes",
          kMaxStepKeyBytes);
    }
    entries.latest = "capability_granted:" + capability->as_string();
  } else if (type == "replayed_with_drift" && payload.find("fork_run_id") != nullptr) {
    entries.latest = "run_fork";
  }
  if (const Json* cost = payload.find("cost_micro_usd"); cost != nullptr) {
    if (!cost->is_integer() || cost->as_integer() < 0) {
      return Status::invalid_argument(
          "payload.cost_micro_usd: must be a non-negative integer (micro-USD)");
    }
    entries.spend_micro_usd = cost->as_integer();
  }
  return entries;
}

}  // namespace artana::kernel
