#include "ledger/ledger_export.h"

#include <vector>

#include "artana/kernel/canonical_json.h"
#include "ledger/ledger_reader.h"

namespace artana::kernel::ledger {
namespace {

Result<std::string> inlined_line(LedgerReader& reader, const RunRecord& record, uint64_t seq) {
  ARTANA_ASSIGN_OR_RETURN(Event e, reader.event(record, seq, /*expand=*/true));
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

Result<std::string> stored_line(LedgerReader& reader, const RunRecord& record, uint64_t seq,
                                const ExportOptions& options) {
  if (options.inline_large_values) return inlined_line(reader, record, seq);
  ARTANA_ASSIGN_OR_RETURN(std::string_view value, reader.event_value(record, seq));
  std::string where = "run '" + record.run_id + "' seq " + std::to_string(seq);
  ARTANA_ASSIGN_OR_RETURN(StoredEvent stored, split_event_value(value, where));
  return export_line(stored.canonical, stored.hash);
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
  for (uint64_t seq = from_seq; seq <= record.head_seq;) {
    page.clear();
    size_t page_bytes = 0;
    {
      ARTANA_ASSIGN_OR_RETURN(GuardedTxn txn, env.begin_read());
      LedgerReader reader(env, txn.get());
      while (seq <= record.head_seq && page.size() < kEventsPerPage && page_bytes < kBytesPerPage) {
        ARTANA_ASSIGN_OR_RETURN(std::string line, stored_line(reader, record, seq, options));
        page_bytes += line.size();
        page.push_back(std::move(line));
        ++seq;
      }
    }
    for (const std::string& line : page) ARTANA_RETURN_IF_ERROR(write(line));
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
