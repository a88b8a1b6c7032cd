// The keyed-summary index behind run:lookup (docs/ledger_format.md): per scope — a run (its
// fork prefix included) or a tenant — and summary kind, the latest run_summary of each key,
// read newest first in O(limit) whatever the number of summaries.
//   summary_keys:  scope · SHA-256(kind) · key       → u64 order
//   summary_order: scope · SHA-256(kind) · u64 order → u64 run number · u64 seq · key
// The key itself (at most 400 bytes, event_index.h) ends summary_keys' keys: a run's keys
// sort by name, so the summaries it writes one after another land in neighbouring leaves.
// A run's scope is 'r' · run number, ordered by seq (the run's commit order); a tenant's is
// 't' · SHA-256(tenant id), ordered by log position (the ledger's commit order). Both are
// written in the append's transaction, and `verify` recomputes them from the events.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/event_index.h"
#include "artana/kernel/event_store.h"
#include "ledger/group_commit.h"
#include "ledger/ledger_reader.h"

namespace artana::kernel::ledger {

std::string run_summary_scope(uint64_t run_number);
std::string tenant_summary_scope(std::string_view tenant_id);

// Where a summary is: its order in its scope and the event.
struct SummaryPlace {
  uint64_t order = 0;
  uint64_t run_number = 0;
  uint64_t seq = 0;
};

// SHA-256 of a summary's kind (raw), as the index keys hold it: computed once for the two
// scopes a summary is indexed in.
struct SummaryHashes {
  std::string kind;
};
SummaryHashes hash_summary(const SummaryKey& summary);

// Makes the summary at `place` the latest of (kind, key) in `scope`, unless the one stored
// is newer (a larger order): so entries may be put in any order (a migration, a fork).
Status put_summary(WriteContext& ctx, std::string_view scope, const SummaryKey& summary,
                   const SummaryPlace& place, const SummaryHashes& hashes);
Status put_summary(WriteContext& ctx, std::string_view scope, const SummaryKey& summary,
                   const SummaryPlace& place);

struct SummaryHit {
  uint64_t run_number = 0;
  uint64_t seq = 0;
  std::string key;
};
// The latest summary of each key of `kind` in `scope`, newest first, at most `limit`.
Result<std::vector<SummaryHit>> newest_summaries(LedgerReader& reader, std::string_view scope,
                                                 std::string_view kind, size_t limit);

// newest_summaries of `run`'s scope or its tenant's, read: the value is the summary's
// payload `value`.
Result<std::vector<KeyedSummary>> read_keyed_summaries(LedgerReader& reader, const RunRecord& run,
                                                       SummaryScope scope, std::string_view kind,
                                                       size_t limit);

// The stored entries of both databases whose keys start with `prefix` ("" for all), as
// (database name, key, value), in key order: what verify compares.
Status for_each_summary_entry(LedgerReader& reader, std::string_view prefix,
                              const std::function<Status(std::string_view db, std::string_view key,
                                                         std::string_view value)>& visit);
// The (key, value) entries both databases must hold for one summary.
struct SummaryEntries {
  std::string keys_key, keys_value, order_key, order_value;
};
SummaryEntries summary_entries(std::string_view scope, const SummaryKey& summary,
                               const SummaryPlace& place, const SummaryHashes& hashes);
SummaryEntries summary_entries(std::string_view scope, const SummaryKey& summary,
                               const SummaryPlace& place);

// Builds the index from every event (a migration from schema 4 or 5).
Status rebuild_summary_index(LedgerReader& reader, WriteContext& ctx);

}  // namespace artana::kernel::ledger
