// What an event contributes to the store's indexes and running totals (docs/ledger_format.md).
//
// A pure function of (type, payload): the store calls it on every append, and `verify` and a
// fork's creation call it again over recorded events to compute what the indexes hold:
//   - a step's event (kStepKinds' openers and terminals, step_denied, tool_reconciled,
//     replayed_with_drift — each with a string `step_key`): folded into the step's record in
//     the `steps` index (step_index.h);
//   - a run fact the kernel loads a run by, or a summary: the `latest` index keeps the seq of
//     the latest event per name — "run_started", "script_loaded", "budget_raised",
//     "cancel_requested", "child_waiting",
//     "capability_granted:<capability>", "run_fork" (a replayed_with_drift naming a fork) and
//     "run_summary:<kind>";
//   - a keyed summary: a run_summary with a string `key` (else its `step_key`) is the latest
//     of its (kind, key) in its run's and its tenant's summary index (run:lookup);
//   - spend: an integer `cost_micro_usd` >= 0 in any payload, added to the run's and the
//     tenant's totals.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "artana/kernel/step_index.h"

namespace artana::kernel {

inline constexpr size_t kMaxStepKeyBytes = 400;

// A run_summary's place in the summary index: its kind and key.
struct SummaryKey {
  std::string kind;
  std::string key;
  auto operator<=>(const SummaryKey&) const = default;
};

struct IndexEntries {
  std::optional<StepDelta> step;
  std::optional<std::string> latest;  // the `latest` index name
  std::optional<SummaryKey> summary;
  int64_t spend_micro_usd = 0;
};

Result<IndexEntries> index_event(std::string_view type, const Json& payload);

// The `latest` index name of a run_summary of `kind`.
std::string summary_index_name(std::string_view kind);

bool is_terminal_event_type(std::string_view type);

}  // namespace artana::kernel
