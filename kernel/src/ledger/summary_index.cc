#include "ledger/summary_index.h"

#include <map>

#include "artana/kernel/sha256.h"
#include "ledger/event_codec.h"
#include "ledger/run_indexes.h"

namespace artana::kernel::ledger {
namespace {

constexpr size_t kHashBytes = 32;

std::string scope_kind(std::string_view scope, std::string_view kind) {
  std::string prefix(scope);
  prefix.append(Sha256::of(kind).raw());
  return prefix;
}

}  // namespace

std::string run_summary_scope(uint64_t run_number) {
  std::string scope = "r";
  put_u64be(scope, run_number);
  return scope;
}

std::string tenant_summary_scope(std::string_view tenant_id) {
  std::string scope = "t";
  scope.append(Sha256::of(tenant_id).raw());
  return scope;
}

SummaryHashes hash_summary(const SummaryKey& summary) {
  return SummaryHashes{std::string(Sha256::of(summary.kind).raw())};
}

SummaryEntries summary_entries(std::string_view scope, const SummaryKey& summary,
                               const SummaryPlace& place, const SummaryHashes& hashes) {
  SummaryEntries out;
  std::string prefix(scope);
  prefix.append(hashes.kind);
  out.keys_key.reserve(prefix.size() + summary.key.size());
  out.keys_key = prefix;
  out.keys_key.append(summary.key);
  put_u64be(out.keys_value, place.order);
  out.order_key = std::move(prefix);
  put_u64be(out.order_key, place.order);
  put_u64be(out.order_value, place.run_number);
  put_u64be(out.order_value, place.seq);
  out.order_value.append(summary.key);
  return out;
}

SummaryEntries summary_entries(std::string_view scope, const SummaryKey& summary,
                               const SummaryPlace& place) {
  return summary_entries(scope, summary, place, hash_summary(summary));
}

Status put_summary(WriteContext& ctx, std::string_view scope, const SummaryKey& summary,
                   const SummaryPlace& place) {
  return put_summary(ctx, scope, summary, place, hash_summary(summary));
}

Status put_summary(WriteContext& ctx, std::string_view scope, const SummaryKey& summary,
                   const SummaryPlace& place, const SummaryHashes& hashes) {
  const Dbis& dbi = ctx.env().dbi();
  SummaryEntries entries = summary_entries(scope, summary, place, hashes);
  // A key's first summary (the common case) is written by the descent that finds it absent.
  ARTANA_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                          ctx.insert(dbi.summary_keys, entries.keys_key, entries.keys_value));
  if (stored) {
    if (stored->size() != 8) {
      return Status::corruption("{}: a summary index entry is damaged", ctx.env().data_path());
    }
    const uint64_t replaced = get_u64be(*stored);
    if (replaced > place.order) return Status();  // a newer one is the latest already: kept
    ARTANA_RETURN_IF_ERROR(ctx.put(dbi.summary_keys, entries.keys_key, entries.keys_value));
    std::string old_order_key = entries.keys_key.substr(0, scope.size() + kHashBytes);
    put_u64be(old_order_key, replaced);
    ARTANA_RETURN_IF_ERROR(ctx.del(dbi.summary_order, old_order_key));
  }
  return ctx.put(dbi.summary_order, entries.order_key, entries.order_value);
}

Result<std::vector<SummaryHit>> newest_summaries(LedgerReader& reader, std::string_view scope,
                                                 std::string_view kind, size_t limit) {
  std::vector<SummaryHit> hits;
  const std::string prefix = scope_kind(scope, kind);
  Cursor cursor;
  int rc = Cursor::open(reader.txn(), reader.env().dbi().summary_order, cursor);
  if (rc != 0) return lmdb_status(rc, "reading the summary index", reader.env().data_path());
  // Just past the prefix's largest order, then backwards.
  std::string end = prefix;
  put_u64be(end, ~uint64_t{0});
  MDB_val key = to_val(end), val;
  rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_SET_RANGE);
  rc = rc == 0 ? mdb_cursor_get(cursor.get(), &key, &val, MDB_PREV)
               : mdb_cursor_get(cursor.get(), &key, &val, MDB_LAST);
  for (; rc == 0 && hits.size() < limit; rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_PREV)) {
    std::string_view k = from_val(key), v = from_val(val);
    if (!k.starts_with(prefix)) break;
    if (k.size() != prefix.size() + 8 || v.size() < 16) {
      return Status::corruption("{}: a summary index entry is damaged", reader.env().data_path());
    }
    hits.push_back(SummaryHit{get_u64be(v, 0), get_u64be(v, 8), std::string(v.substr(16))});
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return lmdb_status(rc, "reading the summary index", reader.env().data_path());
  }
  return hits;
}

Result<std::vector<KeyedSummary>> read_keyed_summaries(LedgerReader& reader, const RunRecord& run,
                                                       SummaryScope scope, std::string_view kind,
                                                       size_t limit) {
  const std::string where = scope == SummaryScope::kRun ? run_summary_scope(run.run_number)
                                                        : tenant_summary_scope(run.tenant_id);
  ARTANA_ASSIGN_OR_RETURN(std::vector<SummaryHit> hits,
                          newest_summaries(reader, where, kind, limit));
  std::vector<KeyedSummary> out;
  out.reserve(hits.size());
  std::map<uint64_t, RunRecord> runs;  // a tenant's hits come from a few runs
  for (SummaryHit& hit : hits) {
    auto it = runs.find(hit.run_number);
    if (it == runs.end()) {
      if (hit.run_number == run.run_number) {
        it = runs.emplace(hit.run_number, run).first;
      } else {
        ARTANA_ASSIGN_OR_RETURN(RunRecord other, reader.run_record(hit.run_number));
        it = runs.emplace(hit.run_number, std::move(other)).first;
      }
    }
    ARTANA_ASSIGN_OR_RETURN(Event event, reader.event(it->second, hit.seq));
    const Json* kind_field = event.payload.find("kind");
    if (event.type != "run_summary" || kind_field == nullptr || !kind_field->is_string() ||
        kind_field->as_string() != kind) {
      return Status::corruption(
          "run '{}' seq {}: the summary index names a {} event, not a "
          "summary of kind '{}'",
          it->second.run_id, hit.seq, event.type, kind);
    }
    Json* value = event.payload.find("value");
    out.push_back(KeyedSummary{RunId(it->second.run_id), hit.seq, std::move(hit.key),
                               value != nullptr ? std::move(*value) : Json()});
  }
  return out;
}

Status for_each_summary_entry(LedgerReader& reader, std::string_view prefix,
                              const std::function<Status(std::string_view db, std::string_view key,
                                                         std::string_view value)>& visit) {
  const Dbis& dbi = reader.env().dbi();
  for (auto [name, handle] :
       {std::pair<std::string_view, MDB_dbi>{"summary_keys", dbi.summary_keys},
        std::pair<std::string_view, MDB_dbi>{"summary_order", dbi.summary_order}}) {
    Cursor cursor;
    int rc = Cursor::open(reader.txn(), handle, cursor);
    if (rc != 0) return lmdb_status(rc, "reading the summary index", reader.env().data_path());
    MDB_val key = to_val(prefix), val;
    for (rc = mdb_cursor_get(cursor.get(), &key, &val, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
         rc == 0; rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT)) {
      std::string_view k = from_val(key);
      if (!k.starts_with(prefix)) break;
      ARTANA_RETURN_IF_ERROR(visit(name, k, from_val(val)));
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return lmdb_status(rc, "reading the summary index", reader.env().data_path());
    }
  }
  return Status();
}

Status rebuild_summary_index(LedgerReader& reader, WriteContext& ctx) {
  const Dbis& dbi = ctx.env().dbi();
  for (MDB_dbi handle : {dbi.summary_keys, dbi.summary_order}) {
    int rc = mdb_drop(ctx.txn(), handle, 0);
    if (rc != 0) return lmdb_status(rc, "clearing the summary index", ctx.env().data_path());
  }
  // A run's scope, its fork prefix included: from the fold of its events.
  auto run_scope = [&](RunRecord&& record) -> Result<bool> {
    RunIndexes indexes;
    ARTANA_RETURN_IF_ERROR(fold_run_events(reader, record, record.head_seq, indexes));
    const std::string scope = run_summary_scope(record.run_number);
    for (const auto& [summary, seq] : indexes.summaries) {
      ARTANA_RETURN_IF_ERROR(put_summary(ctx, scope, summary, {seq, record.run_number, seq}));
    }
    return true;
  };
  ARTANA_RETURN_IF_ERROR(reader.for_each_run(run_scope));
  // A tenant's scope: every run's own events, in log order.
  std::map<std::string, std::pair<uint64_t, std::string>, std::less<>> runs;  // id -> number, scope
  Cursor cursor;
  int rc = Cursor::open(ctx.txn(), dbi.log, cursor);
  if (rc != 0) return lmdb_status(rc, "reading the log", ctx.env().data_path());
  MDB_val key, val;
  for (rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT)) {
    const uint64_t position = get_u64be(from_val(key));
    const std::string where = "log position " + std::to_string(position);
    ARTANA_ASSIGN_OR_RETURN(StoredEvent stored, split_event_value(from_val(val), where));
    ARTANA_ASSIGN_OR_RETURN(Event event, parse_event(stored.canonical, stored.hash, where));
    if (event.type != "run_summary") continue;
    ARTANA_ASSIGN_OR_RETURN(IndexEntries entries, index_event(event.type, event.payload));
    if (!entries.summary) continue;
    auto it = runs.find(event.run_id.str());
    if (it == runs.end()) {
      ARTANA_ASSIGN_OR_RETURN(std::optional<uint64_t> number,
                              reader.find_run_number(event.run_id.str()));
      if (!number) return Status::corruption("{}: names no stored run", where);
      it = runs.emplace(event.run_id.str(),
                        std::make_pair(*number, tenant_summary_scope(event.tenant_id.str())))
               .first;
    }
    ARTANA_RETURN_IF_ERROR(put_summary(ctx, it->second.second, *entries.summary,
                                       {position, it->second.first, event.seq}));
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "reading the log", ctx.env().data_path());
  return Status();
}

}  // namespace artana::kernel::ledger
