#include "ledger/ledger_export.h"

#include <vector>

#include "artana/kernel/canonical_json.h"
#include "ledger/ledger_reader.h"

namespace artana::kernel::ledger {
namespace {

// Reads the event at `seq`, checks it is the one the chain expects (its bytes hash to its
// hash, it links to `prev`), and returns its export line; `prev` becomes its hash. An export
// is evidence: a line of a damaged event is never printed as if it were recorded.
Result<std::string> checked_line(LedgerReader& reader, const RunRecord& record, uint64_t seq,
                                 Sha256& prev, const ExportOptions& options) {
  ARTANA_ASSIGN_OR_RETURN(std::string_view value, reader.event_value(record, seq));
  const std::string where = "run '" + record.run_id + "' seq " + std::to_string(seq);
  ARTANA_ASSIGN_OR_RETURN(StoredEvent stored, split_event_value(value, where));
  if (Sha256::of(stored.canonical) != stored.hash) {
    return Status::corruption(
        "{}: the stored bytes do not hash to the stored hash (altered after "
        "writing)",
        where);
  }
  ARTANA_ASSIGN_OR_RETURN(Event e, parse_event(stored.canonical, stored.hash, where));
  if (e.seq != seq) return Status::corruption("{}: the stored event says seq {}", where, e.seq);
  if (e.prev_hash != prev) {
    return Status::corruption("{}: prev_hash does not link to the previous event's hash", where);
  }
  prev = stored.hash;
  if (!options.inline_large_values) return export_line(stored.canonical, stored.hash);
  ARTANA_RETURN_IF_ERROR(expand_payload(e.payload, reader, where));
  Json doc = Json::object({
      {"event_id", e.event_id},
      {"hash", e.hash.hex()},
      {"payload", std::move(e.payload)},
      {"prev_hash", e.prev_hash.hex()},
      {"run_id", e.run_id.str()},
      {"seq", static_cast<int64_t>(e.seq)},
      {"tenant_id", e.tenant_id.str()},
      {"timestamp", e.timestamp},
      {"type", e.type},
  });
  ARTANA_ASSIGN_OR_RETURN(std::string line, canonical_json(doc, "event"));
  line += '\n';
  return line;
}

// The hash the event before `seq` has (a fork's first own event links into its parent).
Result<Sha256> hash_before(LedgerReader& reader, const RunRecord& record, uint64_t seq) {
  if (seq <= 1) return genesis_hash();
  ARTANA_ASSIGN_OR_RETURN(std::string_view value, reader.event_value(record, seq - 1));
  ARTANA_ASSIGN_OR_RETURN(
      StoredEvent stored,
      split_event_value(value, "run '" + record.run_id + "' seq " + std::to_string(seq - 1)));
  return stored.hash;
}

// A page of lines is read in one read transaction, then written with none open: a reader
// held for a whole export (while `write` waits on a slow pipe) would stop LMDB reusing pages
// freed after its snapshot, and the file would grow for as long as the export lasts.
constexpr uint64_t kEventsPerPage = 1000;
constexpr size_t kBytesPerPage = 4 << 20;

// Exports record's events from_seq..record.head_seq. `record` is from the export's first
// snapshot: events never change once written, so later snapshots read the same bytes and
// the export is that snapshot's, without holding it.
Status export_run(LedgerEnv& env, const RunRecord& record, uint64_t from_seq,
                  const std::function<Status(std::string_view)>& write,
                  const ExportOptions& options) {
  std::vector<std::string> page;
  Sha256 prev;
  for (uint64_t seq = from_seq; seq <= record.head_seq;) {
    page.clear();
    size_t page_bytes = 0;
    Status damaged;  // the lines before a damaged event are written, then the error returned
    {
      ARTANA_ASSIGN_OR_RETURN(GuardedTxn txn, env.begin_read());
      LedgerReader reader(env, txn.get());
      if (seq == from_seq) {
        ARTANA_ASSIGN_OR_RETURN(prev, hash_before(reader, record, seq));
      }
      while (seq <= record.head_seq && page.size() < kEventsPerPage && page_bytes < kBytesPerPage) {
        Result<std::string> line = checked_line(reader, record, seq, prev, options);
        if (!line.ok()) {
          damaged = line.status();
          break;
        }
        page_bytes += line->size();
        page.push_back(std::move(*line));
        ++seq;
      }
    }
    for (const std::string& line : page) ARTANA_RETURN_IF_ERROR(write(line));
    ARTANA_RETURN_IF_ERROR(damaged);
  }
  if (record.head_seq >= from_seq && prev != record.head_hash) {
    return Status::corruption("run '{}': its last event does not hash to the run's recorded head",
                              record.run_id);
  }
  return Status();
}

}  // namespace

Status export_events(LedgerEnv& env, const std::optional<RunId>& run,
                     const std::function<Status(std::string_view)>& write,
                     const ExportOptions& options) {
  std::vector<RunRecord> runs;
  {
    ARTANA_ASSIGN_OR_RETURN(GuardedTxn txn, env.begin_read());
    LedgerReader reader(env, txn.get());
    if (run) {
      ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run->str()));
      runs.push_back(std::move(record));
    } else {
      ARTANA_RETURN_IF_ERROR(reader.for_each_run([&](RunRecord&& record) -> Result<bool> {
        runs.push_back(std::move(record));
        return true;
      }));
    }
  }
  for (const RunRecord& record : runs) {
    // One run: from seq 1, a fork's shared prefix included, so the output verifies alone.
    // Every run: each event once, under the run that wrote it.
    ARTANA_RETURN_IF_ERROR(export_run(env, record, run ? 1 : record.first_seq, write, options));
  }
  return Status();
}

}  // namespace artana::kernel::ledger
