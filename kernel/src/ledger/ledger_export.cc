#include "ledger/ledger_export.h"

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

Status export_run(LedgerReader& reader, const RunRecord& record, uint64_t from_seq,
                  const std::function<Status(std::string_view)>& write,
                  const ExportOptions& options) {
  for (uint64_t seq = from_seq; seq <= record.head_seq; ++seq) {
    std::string line;
    if (options.inline_large_values) {
      ARTANA_ASSIGN_OR_RETURN(line, inlined_line(reader, record, seq));
    } else {
      ARTANA_ASSIGN_OR_RETURN(std::string_view value, reader.event_value(record, seq));
      std::string where = "run '" + record.run_id + "' seq " + std::to_string(seq);
      ARTANA_ASSIGN_OR_RETURN(StoredEvent stored, split_event_value(value, where));
      ARTANA_ASSIGN_OR_RETURN(line, export_line(stored.canonical, stored.hash));
    }
    ARTANA_RETURN_IF_ERROR(write(line));
  }
  return Status();
}

}  // namespace

Status export_events(LedgerEnv& env, const std::optional<RunId>& run,
                     const std::function<Status(std::string_view)>& write,
                     const ExportOptions& options) {
  ARTANA_ASSIGN_OR_RETURN(GuardedTxn txn, env.begin_read());
  LedgerReader reader(env, txn.get());
  if (run) {
    // One run: from seq 1, a fork's shared prefix included, so the output verifies alone.
    ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run->str()));
    return export_run(reader, record, 1, write, options);
  }
  // Every run: each event once, under the run that wrote it.
  return reader.for_each_run([&](RunRecord&& record) -> Result<bool> {
    ARTANA_RETURN_IF_ERROR(export_run(reader, record, record.first_seq, write, options));
    return true;
  });
}

}  // namespace artana::kernel::ledger
