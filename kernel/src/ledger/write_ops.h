// The store's write operations, each run inside a GroupCommit batch: create a run, append
// events, release a lease. Each keeps heads, indexes and totals in step with the events it
// writes, is repeatable (it may be redone after the map grows), and checks everything before
// its first write (GroupCommit's rule), so a refused op leaves the shared transaction as it
// was. An append's CPU work that needs no ledger state (payload encoding, large values,
// index entries, event ids) is done by prepare_append on the caller's thread, outside the
// writer's critical section.
#pragma once

#include <functional>

#include "artana/kernel/event_store.h"
#include "artana/kernel/lmdb_event_store.h"
#include "ledger/blob_store.h"
#include "ledger/group_commit.h"
#include "ledger/run_record.h"

namespace artana::kernel::ledger {

struct StoreConfig {
  size_t large_value_bytes;
  int64_t lease_ttl_us;
  std::function<int64_t()> clock_us;
};

// The `aux` database's key of `key` in `space` (AppendTxn::put_index, EventStore::read_index).
Result<std::string> aux_index_key(std::string_view space, std::string_view key);
Status validate_event_type(std::string_view type);

Status apply_create_run(WriteContext& ctx, const StoreConfig& config, const RunHeader& header,
                        RunInfo& created);
struct PreparedEvent {
  std::string event_id;
  std::string payload_text;  // the stored (canonical, references-for-large-values) form
  IndexEntries entries;
};
struct PreparedAppend {
  std::vector<PreparedEvent> events;
  std::vector<PreparedBlob> blobs;  // large values and AppendRequest::blobs, each once
  bool creates_run = false;         // AppendRequest::create
  uint64_t bytes() const;           // about how many bytes applying it writes
};
Result<PreparedAppend> prepare_append(const StoreConfig& config, const AppendRequest& request);

// A new run's header: its ids valid, its script hash (if any) 64 hex digits.
Status check_run_header(const RunHeader& header);
// An append the store can take: some events; a creating append is its run's first, with
// nothing that apply_append would check after creating it.
Status check_append_request(const AppendRequest& request);
// After a successful commit the drafts' payloads become the events' payloads, and what was
// indexed for them is handed on: moved, not copied, and only now, because a batch may be
// redone until it commits.
void attach_payloads(AppendRequest& request, PreparedAppend& prepared, AppendResult& result);

// Whether `request` may append to `record` with its lease as it stands at `now`: refused
// (kLeaseHeld: another live owner holds it; kFenced: the request's epoch is stale), or
// whether the append takes the lease (a new epoch) rather than keeping this owner's.
Result<bool> lease_takeover(const AppendRequest& request, const RunRecord& record, int64_t now);

// The result an append of `request` (prepared as `prepared`) will have once committed after
// `head`, as far as it is known before the commit: its events' run, seqs, types and payloads
// (moved out of the request: the commit needs only the prepared texts and the types), their
// index entries (copied) and `lease_epoch`. Not what only the transaction knows: hashes,
// timestamps, event ids.
AppendResult predicted_append(AppendRequest& request, const PreparedAppend& prepared, uint64_t head,
                              uint64_t lease_epoch);

Status apply_append(WriteContext& ctx, const StoreConfig& config, AppendRequest& request,
                    const PreparedAppend& prepared, AppendResult& result);
Status apply_release_lease(WriteContext& ctx, const RunId& run, uint64_t lease_epoch);
// Extends the lease this process holds at `lease_epoch` by the TTL from now.
Status apply_renew_lease(WriteContext& ctx, const StoreConfig& config, const RunId& run,
                         uint64_t lease_epoch);

}  // namespace artana::kernel::ledger
