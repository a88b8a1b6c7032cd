#include "artana/kernel/event_index.h"

#include "artana/kernel/step_kind.h"

namespace artana::kernel {

bool is_terminal_event_type(std::string_view type) {
  // The events that end a step (kStepKinds): the kernel writes one with the step's key once
  // the step has a result a replay can return. Events that open a step never end it.
  const std::optional<StepEventRole> role = step_event_role(type);
  return role && role->ends;
}

Result<IndexEntries> index_standard(std::string_view type, const Json& payload) {
  IndexEntries entries;
  if (is_terminal_event_type(type)) {
    if (const Json* key = payload.find("step_key"); key != nullptr && key->is_string()) {
      if (key->as_string().empty() || key->as_string().size() > kMaxStepKeyBytes) {
        return Status::invalid_argument("payload.step_key: must be 1..{} bytes, got {}",
                                        kMaxStepKeyBytes, key->as_string().size());
      }
      entries.terminal_step_key = key->as_string();
    }
  }
  if (type == "run_summary") {
    const Json* kind = payload.find("kind");
    if (kind == nullptr || !kind->is_string() || kind->as_string().empty() ||
        kind->as_string().size() > kMaxStepKeyBytes) {
      return Status::invalid_argument(
          "payload.kind: a run_summary needs a string kind of 1..{} bytes", kMaxStepKeyBytes);
    }
    entries.summary_kind = kind->as_string();
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

EventIndexer standard_event_indexer() { return &index_standard; }

}  // namespace artana::kernel
