#include "ledger/run_indexes.h"

#include "ledger/summary_index.h"

namespace artana::kernel::ledger {
namespace {

// Calls `visit` with each (key, value) of `dbi` whose key starts with the run's number.
Status for_each_of_run(LedgerReader& reader, MDB_dbi dbi, uint64_t run_number,
                       const std::function<Status(std::string_view, std::string_view)>& visit) {
  Cursor cursor;
  int rc = Cursor::open(reader.txn(), dbi, cursor);
  if (rc != 0) return lmdb_status(rc, "reading an index", reader.env().data_path());
  std::string prefix;
  put_u64be(prefix, run_number);
  MDB_val key = to_val(prefix), val;
  for (rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT)) {
    std::string_view k = from_val(key);
    if (!k.starts_with(prefix)) return Status();
    ARTANA_RETURN_IF_ERROR(visit(k, from_val(val)));
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "reading an index", reader.env().data_path());
  return Status();
}

}  // namespace

void RunIndexes::fold(const IndexEntries& entries, uint64_t seq) {
  if (entries.step) apply_step_delta(steps[entries.step->step_key], *entries.step, seq);
  if (entries.latest) latest[*entries.latest] = seq;
  if (entries.summary) summaries[*entries.summary] = seq;
  spend_micro_usd += entries.spend_micro_usd;
  events += 1;
}

Status fold_run_events(LedgerReader& reader, const RunRecord& run, uint64_t to_seq,
                       RunIndexes& out) {
  return reader.for_each_event(run, 1, [&](Event&& e) -> Result<bool> {
    if (e.seq > to_seq) return false;
    ARTANA_ASSIGN_OR_RETURN(IndexEntries entries, index_event(e.type, e.payload));
    out.fold(entries, e.seq);
    return e.seq < to_seq;
  });
}

std::string encode_latest(uint64_t seq, std::string_view name) {
  std::string v;
  v.reserve(8 + name.size());
  put_u64be(v, seq);
  v.append(name);
  return v;
}

Result<std::pair<uint64_t, std::string>> decode_latest(std::string_view bytes,
                                                       std::string_view where) {
  if (bytes.size() < 9) return Status::corruption("{}: a latest-index entry is damaged", where);
  return std::make_pair(get_u64be(bytes), std::string(bytes.substr(8)));
}

namespace {

// Reads the step record stored under `k` (run_name_key of `step_key`) into `out`; false when
// there is none.
Result<bool> read_record_at(LedgerReader& reader, const std::string& k, std::string_view step_key,
                            StepIndexRecord& out) {
  MDB_val key = to_val(k), val;
  int rc = mdb_get(reader.txn(), reader.env().dbi().steps, &key, &val);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb_status(rc, "reading the step index", reader.env().data_path());
  ARTANA_ASSIGN_OR_RETURN(auto decoded, decode_step_record(from_val(val), step_key));
  out = std::move(decoded.second);
  return true;
}

}  // namespace

Result<std::optional<StepIndexRecord>> read_step_record(LedgerReader& reader, uint64_t run_number,
                                                        std::string_view step_key) {
  StepIndexRecord record;
  ARTANA_ASSIGN_OR_RETURN(
      bool found, read_record_at(reader, run_name_key(run_number, step_key), step_key, record));
  if (!found) return std::optional<StepIndexRecord>();
  return std::optional<StepIndexRecord>(std::move(record));
}

Status for_each_step_record(LedgerReader& reader, uint64_t run_number,
                            const std::function<Status(std::string&&, StepIndexRecord&&)>& visit) {
  return for_each_of_run(reader, reader.env().dbi().steps, run_number,
                         [&](std::string_view, std::string_view value) -> Status {
                           ARTANA_ASSIGN_OR_RETURN(auto decoded,
                                                   decode_step_record(value, "the step index"));
                           return visit(std::move(decoded.first), std::move(decoded.second));
                         });
}

Status for_each_latest(LedgerReader& reader, uint64_t run_number,
                       const std::function<Status(std::string&&, uint64_t)>& visit) {
  return for_each_of_run(reader, reader.env().dbi().latest, run_number,
                         [&](std::string_view, std::string_view value) -> Status {
                           ARTANA_ASSIGN_OR_RETURN(auto decoded,
                                                   decode_latest(value, "the latest index"));
                           return visit(std::move(decoded.second), decoded.first);
                         });
}

Status EventIndexWriter::add(const IndexEntries& entries, uint64_t seq, uint64_t position) {
  if (entries.step) {
    const std::string& step_key = entries.step->step_key;
    Changed* changed = nullptr;
    for (Changed& c : changed_) {
      if (c.step_key == step_key) changed = &c;
    }
    if (changed == nullptr) {
      changed = &changed_.emplace_back();
      changed->key = run_name_key(run_number_, step_key);
      changed->step_key = step_key;
    }
    apply_step_delta(changed->record, *entries.step, seq);
    changed->deltas.emplace_back(&*entries.step, seq);
  }
  if (entries.latest) {
    ARTANA_RETURN_IF_ERROR(ctx_.put(ctx_.env().dbi().latest,
                                    run_name_key(run_number_, *entries.latest),
                                    encode_latest(seq, *entries.latest)));
  }
  if (entries.summary) {
    const SummaryHashes hashes = hash_summary(*entries.summary);
    if (tenant_scope_.empty()) tenant_scope_ = tenant_summary_scope(tenant_id_);
    ARTANA_RETURN_IF_ERROR(put_summary(ctx_, run_summary_scope(run_number_), *entries.summary,
                                       {seq, run_number_, seq}, hashes));
    ARTANA_RETURN_IF_ERROR(
        put_summary(ctx_, tenant_scope_, *entries.summary, {position, run_number_, seq}, hashes));
  }
  return Status();
}

Status EventIndexWriter::flush() {
  const MDB_dbi steps = ctx_.env().dbi().steps;
  for (const Changed& c : changed_) {
    ARTANA_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                            ctx_.insert(steps, c.key, encode_step_record(c.step_key, c.record)));
    if (!stored) continue;
    ARTANA_ASSIGN_OR_RETURN(auto decoded, decode_step_record(*stored, c.step_key));
    StepIndexRecord& record = decoded.second;
    for (const auto& [delta, seq] : c.deltas) apply_step_delta(record, *delta, seq);
    ARTANA_RETURN_IF_ERROR(ctx_.put(steps, c.key, encode_step_record(c.step_key, record)));
  }
  changed_.clear();
  return Status();
}

Status put_run_indexes(WriteContext& ctx, uint64_t run_number, const RunIndexes& indexes) {
  for (const auto& [step_key, record] : indexes.steps) {
    ARTANA_RETURN_IF_ERROR(ctx.put(ctx.env().dbi().steps, run_name_key(run_number, step_key),
                                   encode_step_record(step_key, record)));
  }
  for (const auto& [name, seq] : indexes.latest) {
    ARTANA_RETURN_IF_ERROR(
        ctx.put(ctx.env().dbi().latest, run_name_key(run_number, name), encode_latest(seq, name)));
  }
  const std::string scope = run_summary_scope(run_number);
  for (const auto& [summary, seq] : indexes.summaries) {
    ARTANA_RETURN_IF_ERROR(put_summary(ctx, scope, summary, {seq, run_number, seq}));
  }
  return Status();
}

Result<std::vector<RunInfo>> read_tenant_runs(LedgerReader& reader, std::string_view tenant,
                                              std::optional<RunStatus> status) {
  const std::string& where = reader.env().data_path();
  std::vector<RunInfo> runs;
  Cursor cursor;
  int rc = Cursor::open(reader.txn(), reader.env().dbi().tenant_runs, cursor);
  if (rc != 0) return lmdb_status(rc, "listing runs", where);
  MDB_val key = to_val(tenant), val;
  for (rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_SET_KEY); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT_DUP)) {
    ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_record(get_u64be(from_val(val))));
    if (status && record.status != *status) continue;
    ARTANA_ASSIGN_OR_RETURN(RunInfo info, to_run_info(record));
    runs.push_back(std::move(info));
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "listing runs", where);
  return runs;
}

}  // namespace artana::kernel::ledger
