// LmdbEventStore's reads: events, heads, batches of payloads (read ahead on another
// thread), indexes, summaries, totals, run lists, verification, export, blobs.
#include "ledger/lmdb_event_store_impl.h"

#include "ledger/blob_store.h"
#include "ledger/ledger_export.h"
#include "ledger/ledger_verify.h"
#include "ledger/run_indexes.h"
#include "ledger/summary_index.h"

namespace artana::kernel::ledger {

template <typename Body, typename R>
R LmdbEventStore::read_run(const RunId& run, Body&& body) {
  flush();
  pipelined_.wait_for(run);
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  LedgerReader reader(*env_, txn.get());
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run.str()));
  return body(reader, record);
}

template <typename T, typename ReadOne>
Result<std::vector<T>> LmdbEventStore::read_batch(const RunId& run,
                                                  const std::vector<uint64_t>& seqs,
                                                  size_t max_bytes, ReadOne read_one) {
  pipelined_.wait_for(run);
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  LedgerReader reader(*env_, txn.get());
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run.str()));
  std::vector<T> out;
  out.reserve(seqs.size());
  size_t bytes = 0;
  for (uint64_t seq : seqs) {
    if (seq == 0 || seq > record.head_seq) {
      return Status::not_found("run '{}' has no seq {} (its head is seq {})", run.str(), seq,
                               record.head_seq);
    }
    // The reader sizes each payload as it reads it (a walk of every payload to count its
    // bytes cost as much as parsing it).
    size_t stored = 0;
    Result<T> one = read_one(reader, record, seq, &stored);
    if (!one.ok()) {
      // A bad event after the first ends the batch before it: its error is reported when
      // its own step asks for it, not at the first step of its batch.
      if (!out.empty()) break;
      return one.status();
    }
    out.push_back(std::move(one).value());
    bytes += stored;
    if (bytes > max_bytes) break;
  }
  return out;
}

Result<std::vector<Event>> LmdbEventStore::read(const RunId& run, uint64_t from_seq, size_t limit) {
  return read_run(run,
                  [&](LedgerReader& reader, const RunRecord& record) -> Result<std::vector<Event>> {
                    std::vector<Event> events;
                    if (limit == 0) return events;
                    ARTANA_RETURN_IF_ERROR(
                        reader.for_each_event(record, from_seq, [&](Event&& e) -> Result<bool> {
                          events.push_back(std::move(e));
                          return events.size() < limit;
                        }));
                    return events;
                  });
}

Result<RunInfo> LmdbEventStore::head(const RunId& run) {
  flush();
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  LedgerReader reader(*env_, txn.get());
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run.str()));
  return ledger::to_run_info(record);
}

Result<Event> LmdbEventStore::read_event(const RunId& run, uint64_t seq) {
  return read_run(run, [&](LedgerReader& reader, const RunRecord& record) -> Result<Event> {
    if (seq == 0 || seq > record.head_seq) {
      return Status::not_found("run '{}' has no seq {} (its head is seq {})", run.str(), seq,
                               record.head_seq);
    }
    return reader.event(record, seq);
  });
}

Result<std::vector<Event>> LmdbEventStore::read_payloads(const RunId& run,
                                                         const std::vector<uint64_t>& seqs,
                                                         size_t max_bytes) {
  flush();
  return read_batch<Event>(
      run, seqs, max_bytes,
      [](LedgerReader& reader, const RunRecord& record, uint64_t seq, size_t* stored) {
        return reader.event(record, seq, /*expand=*/true,
                            /*envelope=*/false, stored);
      });
}

Result<std::vector<PayloadText>> LmdbEventStore::read_payload_texts(
    const RunId& run, const std::vector<uint64_t>& seqs, size_t max_bytes) {
  flush();
  pipelined_.wait_for(run);
  if (auto prefetched = prefetch_.take(run, seqs, max_bytes)) return std::move(*prefetched);
  return read_texts_here(run, seqs, max_bytes);
}

void LmdbEventStore::prefetch_payload_texts(const RunId& run, std::vector<uint64_t> seqs,
                                            size_t max_bytes) {
  prefetch_.start(run, std::move(seqs), max_bytes);
}

Result<std::vector<PayloadText>> LmdbEventStore::read_texts_here(const RunId& run,
                                                                 const std::vector<uint64_t>& seqs,
                                                                 size_t max_bytes) {
  return read_batch<PayloadText>(
      run, seqs, max_bytes,
      [](LedgerReader& reader, const RunRecord& record, uint64_t seq, size_t* stored) {
        return reader.payload_text(record, seq, stored);
      });
}

Result<RunIndex> LmdbEventStore::run_index(const RunId& run, const StepVisitor& on_step) {
  return read_run(run, [&](LedgerReader& reader, const RunRecord& record) -> Result<RunIndex> {
    RunIndex index;
    ARTANA_ASSIGN_OR_RETURN(index.info, ledger::to_run_info(record));
    ARTANA_RETURN_IF_ERROR(ledger::for_each_step_record(reader, record.run_number, on_step));
    ARTANA_RETURN_IF_ERROR(
        ledger::for_each_latest(reader, record.run_number, [&](std::string&& name, uint64_t seq) {
          index.latest.emplace_back(std::move(name), seq);
          return Status();
        }));
    return index;
  });
}

Result<std::optional<Event>> LmdbEventStore::find_terminal(const RunId& run,
                                                           std::string_view step_key) {
  return read_run(
      run, [&](LedgerReader& reader, const RunRecord& record) -> Result<std::optional<Event>> {
        ARTANA_ASSIGN_OR_RETURN(std::optional<StepIndexRecord> step,
                                ledger::read_step_record(reader, record.run_number, step_key));
        if (!step || step->terminal_seq == 0) return std::optional<Event>();
        ARTANA_ASSIGN_OR_RETURN(Event e, reader.event(record, step->terminal_seq));
        return std::optional<Event>(std::move(e));
      });
}

Result<std::optional<Event>> LmdbEventStore::latest_summary(const RunId& run,
                                                            std::string_view kind) {
  return read_run(
      run, [&](LedgerReader& reader, const RunRecord& record) -> Result<std::optional<Event>> {
        ARTANA_ASSIGN_OR_RETURN(
            std::optional<uint64_t> seq,
            reader.indexed_seq(env_->dbi().latest, record.run_number, summary_index_name(kind)));
        if (!seq) return std::optional<Event>();
        ARTANA_ASSIGN_OR_RETURN(Event e, reader.event(record, *seq));
        return std::optional<Event>(std::move(e));
      });
}

Result<std::vector<KeyedSummary>> LmdbEventStore::latest_keyed_summaries(const RunId& run,
                                                                         SummaryScope scope,
                                                                         std::string_view kind,
                                                                         size_t limit) {
  return read_run(
      run, [&](LedgerReader& reader, const RunRecord& record) -> Result<std::vector<KeyedSummary>> {
        return ledger::read_keyed_summaries(reader, record, scope, kind, limit);
      });
}

Result<std::optional<std::string>> LmdbEventStore::read_index(std::string_view space,
                                                              std::string_view key) {
  flush();
  ARTANA_ASSIGN_OR_RETURN(std::string k, ledger::aux_index_key(space, key));
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  MDB_val mk = ledger::to_val(k), mv;
  int rc = mdb_get(txn.get(), env_->dbi().aux, &mk, &mv);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return ledger::lmdb_status(rc, "reading an index", env_->data_path());
  return std::optional<std::string>(std::string(ledger::from_val(mv)));
}

Result<Totals> LmdbEventStore::totals(const RunId& run) {
  return read_run(run, [&](LedgerReader& reader, const RunRecord& record) -> Result<Totals> {
    return reader.totals(ledger::run_totals_key(record.run_number));
  });
}

Result<Totals> LmdbEventStore::tenant_totals(const TenantId& tenant) {
  flush();
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  LedgerReader reader(*env_, txn.get());
  return reader.totals(ledger::tenant_totals_key(tenant.str()));
}

Result<std::vector<RunInfo>> LmdbEventStore::list_runs(const TenantId& tenant,
                                                       std::optional<RunStatus> status) {
  flush();
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  LedgerReader reader(*env_, txn.get());
  return ledger::read_tenant_runs(reader, tenant.str(), status);
}

Result<std::vector<RunInfo>> LmdbEventStore::list_all_runs() {
  flush();
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  LedgerReader reader(*env_, txn.get());
  std::vector<RunInfo> runs;
  ARTANA_RETURN_IF_ERROR(reader.for_each_run([&](RunRecord&& record) -> Result<bool> {
    ARTANA_ASSIGN_OR_RETURN(RunInfo info, ledger::to_run_info(record));
    runs.push_back(std::move(info));
    return true;
  }));
  return runs;
}

Result<VerifyReport> LmdbEventStore::verify(std::optional<RunId> run) {
  flush();
  pipelined_.wait_all();
  return ledger::verify_in_child(*env_, run);
}

Status LmdbEventStore::export_jsonl(std::optional<RunId> run,
                                    const std::function<Status(std::string_view)>& write,
                                    ExportOptions options) {
  flush();
  pipelined_.wait_all();
  return ledger::export_events(*env_, run, write, options);
}

Result<std::optional<std::string>> LmdbEventStore::get_blob(std::string_view sha256_hex) {
  flush();
  ARTANA_ASSIGN_OR_RETURN(Sha256 key, ledger::parse_blob_hash(sha256_hex));
  ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  LedgerReader reader(*env_, txn.get());
  return ledger::read_blob(reader, key);
}

}  // namespace artana::kernel::ledger
