// `ledger export`: one JSON line per event, in seq order per run and run creation order.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "artana/kernel/event_store.h"
#include "ledger/ledger_env.h"

namespace artana::kernel::ledger {

Status export_events(LedgerEnv& env, const std::optional<RunId>& run,
                     const std::function<Status(std::string_view)>& write,
                     const ExportOptions& options);

}  // namespace artana::kernel::ledger
