// EventIndexer: what an event contributes to the store's indexes and running totals.
//
// Must be a pure function of (type, payload): the store calls it on every append and
// `verify` calls it again to recompute what the indexes and totals should hold.
// The standard indexer reads the ledger's conventions (docs/ledger_format.md):
//   - a terminal event of a step: a type listed by is_terminal_event_type() whose payload
//     has a string `step_key`; the index keeps the latest one per step key;
//   - a summary: type "run_summary" with a string `kind`; the index keeps the latest per kind;
//   - spend: an integer `cost_micro_usd` >= 0 in any payload, added to the run's and the
//     tenant's totals.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

inline constexpr size_t kMaxStepKeyBytes = 400;

struct IndexEntries {
  std::optional<std::string> terminal_step_key;
  std::optional<std::string> summary_kind;
  int64_t spend_micro_usd = 0;
};

using EventIndexer =
    std::function<Result<IndexEntries>(std::string_view type, const Json& payload)>;

EventIndexer standard_event_indexer();
Result<IndexEntries> index_standard(std::string_view type, const Json& payload);

bool is_terminal_event_type(std::string_view type);

}  // namespace artana::kernel
