// A run's indexes — `steps` (one StepIndexRecord per step key) and `latest` (the seq of the
// latest event per name) — as its events define them (event_index.h). One fold serves the
// append (one event at a time, in its transaction), a fork's creation (the shared prefix),
// verify (every event again) and the migration from schema 2 (every run rebuilt).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "artana/kernel/event_index.h"
#include "ledger/group_commit.h"
#include "ledger/ledger_reader.h"

namespace artana::kernel::ledger {

struct RunIndexes {
  std::map<std::string, StepIndexRecord> steps;  // by step key
  std::map<std::string, uint64_t> latest;        // name -> seq
  std::map<SummaryKey, uint64_t> summaries;      // the run's summary scope: (kind, key) -> seq
  int64_t spend_micro_usd = 0;
  uint64_t events = 0;

  // Folds what the event at `seq` contributes.
  void fold(const IndexEntries& entries, uint64_t seq);
};

// Folds the run's events 1..to_seq (a fork's shared prefix comes from its parent).
Status fold_run_events(LedgerReader& reader, const RunRecord& run, uint64_t to_seq,
                       RunIndexes& out);

// `latest` values: u64 BE seq | name (the key holds only the name's hash).
std::string encode_latest(uint64_t seq, std::string_view name);
Result<std::pair<uint64_t, std::string>> decode_latest(std::string_view bytes,
                                                       std::string_view where);

// The stored record of `step_key`, or nullopt.
Result<std::optional<StepIndexRecord>> read_step_record(LedgerReader& reader, uint64_t run_number,
                                                        std::string_view step_key);
// Every stored step record / latest entry of a run, in key (hash) order.
Status for_each_step_record(LedgerReader& reader, uint64_t run_number,
                            const std::function<Status(std::string&&, StepIndexRecord&&)>& visit);
Status for_each_latest(LedgerReader& reader, uint64_t run_number,
                       const std::function<Status(std::string&&, uint64_t)>& visit);

// The runs of `tenant` (those with `status`, when given), in creation order.
Result<std::vector<RunInfo>> read_tenant_runs(LedgerReader& reader, std::string_view tenant,
                                              std::optional<RunStatus> status);

// Folds one append's events into the stored indexes of `run_number`: a step's record is read
// once and written once however many of its events the append holds (a model step's request
// and terminal share one commit). A keyed summary goes to the run's and its tenant's summary
// scopes (summary_index.h).
class EventIndexWriter {
 public:
  EventIndexWriter(WriteContext& ctx, uint64_t run_number, std::string_view tenant_id)
      : ctx_(ctx), run_number_(run_number), tenant_id_(tenant_id) {}
  // Room for the steps of `events` events (their records are moved as the list grows).
  void reserve(size_t events) { changed_.reserve(events); }
  // `position`: the event's place in the log (the tenant scope's commit order).
  Status add(const IndexEntries& entries, uint64_t seq, uint64_t position);
  // Writes the step records changed. Call once, after the last add.
  Status flush();

 private:
  // A step's record, not read: folded from nothing first, as if new (the common case: a
  // step's events usually come in one append); flush() writes it with the descent that finds
  // the key absent, or else folds `deltas` again into the stored record and rewrites it.
  struct Changed {
    std::string key;  // run_name_key(run, step key)
    std::string step_key;
    StepIndexRecord record;
    std::vector<std::pair<const StepDelta*, uint64_t>> deltas;  // with their events' seqs
  };
  WriteContext& ctx_;
  uint64_t run_number_;
  std::string_view tenant_id_;
  std::string tenant_scope_;      // tenant_summary_scope(tenant_id_), once it is needed
  std::vector<Changed> changed_;  // an append changes one or two steps: a scan is enough
};
// Writes folded indexes for `run_number` (a new fork, a rebuilt run).
Status put_run_indexes(WriteContext& ctx, uint64_t run_number, const RunIndexes& indexes);

}  // namespace artana::kernel::ledger
