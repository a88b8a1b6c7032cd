// The store's write operations, each run inside a GroupCommit batch: create a run, append
// events, release a lease. Each is all-or-nothing and repeatable (it may be redone after the
// map grows), and keeps heads, indexes and totals in step with the events it writes.
#pragma once

#include <functional>

#include "artana/kernel/event_store.h"
#include "artana/kernel/lmdb_event_store.h"
#include "ledger/group_commit.h"

namespace artana::kernel::ledger {

struct StoreConfig {
  size_t large_value_bytes;
  int64_t lease_ttl_us;
  EventIndexer indexer;
  std::function<int64_t()> clock_us;
};

Status validate_identifier(std::string_view what, std::string_view id);
Status validate_event_type(std::string_view type);

Status apply_create_run(WriteContext& ctx, const StoreConfig& config, const RunHeader& header,
                        RunInfo& created);
Status apply_append(WriteContext& ctx, const StoreConfig& config, AppendRequest& request,
                    AppendResult& result);
Status apply_release_lease(WriteContext& ctx, const RunId& run, uint64_t lease_epoch);

}  // namespace artana::kernel::ledger
