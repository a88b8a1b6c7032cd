#include "ledger/ledger_verify.h"

#include <map>
#include <set>

#include "artana/kernel/kernel_types.h"
#include "ledger/event_codec.h"
#include "ledger/ledger_reader.h"
#include "ledger/payload_codec.h"
#include "ledger/run_indexes.h"
#include "ledger/run_record.h"
#include "ledger/summary_index.h"

namespace artana::kernel::ledger {
namespace {

// A BlobSource that checks each blob's content against its key the first time it is read.
class CheckingBlobSource : public BlobSource {
 public:
  explicit CheckingBlobSource(LedgerReader& reader) : reader_(reader) {}
  Result<std::string_view> get_blob(const Sha256& key) override {
    ARTANA_ASSIGN_OR_RETURN(std::string_view content, reader_.get_blob(key));
    if (checked_.insert(key.hex()).second && Sha256::of(content) != key) {
      return Status::corruption("large value {} does not match its hash", key.hex());
    }
    return content;
  }
  bool checked(const Sha256& key) const { return checked_.count(key.hex()) > 0; }

 private:
  LedgerReader& reader_;
  std::set<std::string> checked_;
};

// What one run's events say the indexes and totals must hold.
struct Expected {
  RunIndexes indexes;  // a fork's cover its shared prefix too
  Totals totals;       // the run's own events only
};

// Why the opener `entries` may not start its step again, or "" when it may. A step that
// succeeded is never opened again: its result replays. A side effect whose call is open
// (its outcome unknown) is called again only after an operator's retry. Either opener means a
// process appended from a state it read before the step's later events were recorded.
std::string reopen_problem(const RunIndexes& indexes, const IndexEntries& entries) {
  if (!entries.step || entries.step->role != StepDelta::Role::kOpened) return "";
  auto it = indexes.steps.find(entries.step->step_key);
  if (it == indexes.steps.end()) return "";
  const StepIndexRecord& step = it->second;
  if (step.end == StepEnd::kSucceeded) return "after it succeeded";
  if (step.end == StepEnd::kOpen && step.open_seq != 0 && step.side_effect && !step.retry_armed) {
    return "while its side effect's outcome is unknown, with no operator's retry";
  }
  return "";
}

class Verifier {
 public:
  Verifier(LedgerEnv& env, MDB_txn* txn, VerifyProgress* progress)
      : env_(env), reader_(env, txn), blobs_(reader_), progress_(progress) {}

  // Returns false (with report_ filled) at the first problem.
  Result<bool> run(const RunRecord& record) {
    report_.runs_checked++;
    publish(record.run_id, 0);
    Expected expected;
    Sha256 prev = genesis_hash();
    if (record.first_seq > 1) {
      auto value = reader_.event_value(record, record.first_seq - 1);
      if (!value.ok()) return bad(record.run_id, 0, "fork point: " + value.status().message());
      auto stored = split_event_value(*value, record.run_id);
      if (!stored.ok()) return bad(record.run_id, 0, "fork point: " + stored.status().message());
      prev = stored->hash;
      Status folded = fold_run_events(reader_, record, record.first_seq - 1, expected.indexes);
      if (!folded.ok()) return bad(record.run_id, 0, "fork prefix: " + folded.message());
    }
    // Walk the run's extents: each covers the seqs up to the next one's start (or the head)
    // at consecutive log positions, and the last is the one the run record keeps.
    uint64_t seq = record.first_seq - 1;
    Cursor cursor;
    int rc = Cursor::open(reader_.txn(), env_.dbi().run_extents, cursor);
    if (rc != 0) return lmdb_status(rc, "scanning events", env_.data_path());
    std::string start = run_seq_key(record.run_number, 0);
    MDB_val key = to_val(start), val;
    std::optional<std::pair<uint64_t, uint64_t>> extent;  // (first seq, its position)
    auto check_extent_until = [&](uint64_t end_seq) -> Result<bool> {
      for (; extent && seq + 1 < end_seq; ++report_.events_checked) {
        ++seq;
        publish(record.run_id, seq);
        ARTANA_ASSIGN_OR_RETURN(
            bool fine, event(record, seq, extent->second + (seq - extent->first), prev, expected));
        if (!fine) return false;
      }
      return true;
    };
    for (rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT)) {
      std::string_view k = from_val(key);
      if (k.size() != 16 || get_u64be(k, 0) != record.run_number) break;
      const uint64_t first = get_u64be(k, 8);
      if (val.mv_size != 8 || first > record.head_seq || first <= seq) {
        return bad(record.run_id, first, "the event index has a damaged or stray entry");
      }
      ARTANA_ASSIGN_OR_RETURN(bool fine, check_extent_until(first));
      if (!fine) return false;
      if (first != seq + 1) {
        return bad(record.run_id, seq + 1,
                   "seq " + std::to_string(seq + 1) + " is missing (next stored seq is " +
                       std::to_string(first) + ")");
      }
      extent.emplace(first, get_u64be(from_val(val)));
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "scanning events", env_.data_path());
    ARTANA_ASSIGN_OR_RETURN(bool fine, check_extent_until(record.head_seq + 1));
    if (!fine) return false;
    if (extent &&
        (extent->first != record.extent_seq || extent->second != record.extent_position)) {
      return bad(record.run_id, extent->first,
                 "the run header's last extent does not match the event index");
    }
    if (record.head_seq != seq || record.head_hash != prev) {
      return bad(record.run_id, seq,
                 "the run header's head (seq " + std::to_string(record.head_seq) +
                     ") does not match its last event (seq " + std::to_string(seq) + ")");
    }
    return indexes(record, expected);
  }

  // After every run was scanned: tenant totals, the log's size and every blob.
  Result<bool> ledger_wide() {
    for (const auto& [tenant, totals] : tenant_totals_) {
      ARTANA_ASSIGN_OR_RETURN(Totals stored, reader_.totals(tenant_totals_key(tenant)));
      if (stored.spend_micro_usd != totals.spend_micro_usd || stored.events != totals.events) {
        return bad("", 0,
                   "the running totals of tenant '" + tenant + "' do not match its runs' events");
      }
    }
    // A run's tree spend: its own and every descendant's.
    std::map<std::string, int64_t> tree_spend;
    for (const auto& [run_id, node] : tree_) {
      tree_spend[run_id] += node.spend;
      std::string parent = node.parent;
      for (int depth = 0; !parent.empty() && depth <= 2 * kMaxChildDepth; ++depth) {
        auto up = tree_.find(parent);
        if (up == tree_.end()) return bad(run_id, 0, "its parent run '" + parent + "' is missing");
        tree_spend[parent] += node.spend;
        parent = up->second.parent;
      }
    }
    for (const auto& [run_id, node] : tree_) {
      ARTANA_ASSIGN_OR_RETURN(Totals stored, reader_.totals(run_totals_key(node.run_number)));
      if (stored.tree_spend_micro_usd != tree_spend[run_id]) {
        return bad(run_id, 0, "the run's tree spend does not match its and its children's events");
      }
    }
    // Every scope: the runs' (checked one by one above) and the tenants'.
    for (const auto& [tenant_summary, place] : tenant_summaries_) {
      all_summaries_.add(summary_entries(tenant_summary_scope(tenant_summary.first),
                                         tenant_summary.second, place));
    }
    ARTANA_ASSIGN_OR_RETURN(bool summaries_ok, same_summaries("", all_summaries_));
    if (!summaries_ok) return bad("", 0, "the summary index does not match the events");
    MDB_stat stat;
    int rc = mdb_stat(reader_.txn(), env_.dbi().log, &stat);
    if (rc != 0) return lmdb_status(rc, "counting events", env_.data_path());
    if (stat.ms_entries != report_.events_checked) {
      return bad("", 0,
                 std::to_string(stat.ms_entries) + " events are stored but runs reach " +
                     std::to_string(report_.events_checked));
    }
    return blobs();
  }

  VerifyReport& report() { return report_; }

 private:
  Result<bool> event(const RunRecord& record, uint64_t seq, uint64_t position, Sha256& prev,
                     Expected& expected) {
    auto value = reader_.log_value(position, record.run_id, seq);
    if (!value.ok()) return bad(record.run_id, seq, value.status().message());
    std::string where = "run '" + record.run_id + "' seq " + std::to_string(seq);
    auto stored = split_event_value(*value, where);
    if (!stored.ok()) return bad(record.run_id, seq, stored.status().message());
    if (Sha256::of(stored->canonical) != stored->hash) {
      return bad(record.run_id, seq,
                 "the stored bytes do not hash to the stored hash (altered after writing)");
    }
    auto parsed = parse_event(stored->canonical, stored->hash, where);
    if (!parsed.ok()) return bad(record.run_id, seq, parsed.status().message());
    Event& e = *parsed;
    if (e.run_id.str() != record.run_id || e.tenant_id.str() != record.tenant_id || e.seq != seq) {
      return bad(record.run_id, seq,
                 "the event names run '" + e.run_id.str() + "' seq " + std::to_string(e.seq) +
                     " of tenant '" + e.tenant_id.str() + "'");
    }
    if (e.prev_hash != prev) {
      return bad(record.run_id, seq, "prev_hash does not link to the previous event's hash");
    }
    Status expanded = expand_payload(e.payload, blobs_, where);
    if (!expanded.ok()) return bad(record.run_id, seq, expanded.message());
    auto entries = index_event(e.type, e.payload);
    if (!entries.ok()) return bad(record.run_id, seq, entries.status().message());
    if (std::string why = reopen_problem(expected.indexes, *entries); !why.empty()) {
      return bad(record.run_id, seq,
                 "step '" + entries->step->step_key + "' starts again (" + e.type + ") " + why +
                     ": a process appended from a state older than the step's events");
    }
    if (entries->summary) {
      // The tenant's scope keeps the summary last in commit order (the log's).
      auto [it, added] =
          tenant_summaries_.try_emplace(std::make_pair(record.tenant_id, *entries->summary),
                                        SummaryPlace{position, record.run_number, seq});
      if (!added && it->second.order < position) it->second = {position, record.run_number, seq};
    }
    expected.indexes.fold(*entries, seq);
    expected.totals.spend_micro_usd += entries->spend_micro_usd;
    expected.totals.events += 1;
    prev = e.hash;
    return true;
  }

  // Every blob hashes to its key: script sources (put_blob) and large values no event
  // reached above (those the events reached were checked on the way).
  Result<bool> blobs() {
    publish("", 0);  // a crash from here on is in `blobs`, not in the last run read
    Cursor cursor;
    int rc = Cursor::open(reader_.txn(), env_.dbi().blobs, cursor);
    if (rc != 0) return lmdb_status(rc, "scanning blobs", env_.data_path());
    MDB_val key, val;
    for (rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT)) {
      std::string_view k = from_val(key), v = from_val(val);
      if (k.size() != 32) return bad("", 0, "a blob key is damaged (not 32 bytes)");
      Sha256 hash = Sha256::from_bytes(k);
      if (blobs_.checked(hash)) continue;
      if (v.empty() || v[0] != 0) return bad("", 0, "blob " + hash.hex() + " is malformed");
      if (Sha256::of(v.substr(1)) != hash) {
        return bad("", 0,
                   "blob " + hash.hex() +
                       " does not match its hash (its bytes were altered after writing)");
      }
    }
    if (rc != MDB_NOTFOUND) return lmdb_status(rc, "scanning blobs", env_.data_path());
    return true;
  }

  Result<bool> indexes(const RunRecord& record, const Expected& expected) {
    std::map<std::string, std::string> steps, latest;
    for (const auto& [step_key, step] : expected.indexes.steps) {
      steps[run_name_key(record.run_number, step_key)] = encode_step_record(step_key, step);
    }
    for (const auto& [name, seq] : expected.indexes.latest) {
      latest[run_name_key(record.run_number, name)] = encode_latest(seq, name);
    }
    ARTANA_ASSIGN_OR_RETURN(bool steps_ok, same_index(env_.dbi().steps, record.run_number, steps));
    if (!steps_ok) return bad(record.run_id, 0, "the step index does not match the events");
    ARTANA_ASSIGN_OR_RETURN(bool latest_ok,
                            same_index(env_.dbi().latest, record.run_number, latest));
    if (!latest_ok)
      return bad(record.run_id, 0, "the latest-event index does not match the events");
    const std::string scope = run_summary_scope(record.run_number);
    SummaryIndex run_summaries;
    for (const auto& [summary, seq] : expected.indexes.summaries) {
      run_summaries.add(summary_entries(scope, summary, {seq, record.run_number, seq}));
    }
    ARTANA_ASSIGN_OR_RETURN(bool summaries_ok, same_summaries(scope, run_summaries));
    if (!summaries_ok) {
      return bad(record.run_id, 0, "the run's summary index does not match its events");
    }
    ARTANA_ASSIGN_OR_RETURN(Totals stored, reader_.totals(run_totals_key(record.run_number)));
    if (stored.spend_micro_usd != expected.totals.spend_micro_usd ||
        stored.events != expected.totals.events) {
      return bad(record.run_id, 0, "the run's running totals do not match its events");
    }
    auto info = to_run_info(record);
    if (!info.ok()) return bad(record.run_id, 0, info.status().message());
    tree_[record.run_id] = {record.run_number, expected.totals.spend_micro_usd,
                            info->header.parent_run_id ? info->header.parent_run_id->str() : ""};
    Totals& tenant = tenant_totals_[record.tenant_id];
    tenant.spend_micro_usd += expected.totals.spend_micro_usd;
    tenant.events += expected.totals.events;

    std::string number;
    put_u64be(number, record.run_number);
    Cursor cursor;
    int rc = Cursor::open(reader_.txn(), env_.dbi().tenant_runs, cursor);
    if (rc != 0) return lmdb_status(rc, "reading the tenant index", env_.data_path());
    MDB_val key = to_val(record.tenant_id), val = to_val(number);
    rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_GET_BOTH);
    if (rc == MDB_NOTFOUND)
      return bad(record.run_id, 0, "the run is missing from its tenant's index");
    if (rc != 0) return lmdb_status(rc, "reading the tenant index", env_.data_path());
    ARTANA_ASSIGN_OR_RETURN(std::optional<uint64_t> by_id, reader_.find_run_number(record.run_id));
    if (!by_id || *by_id != record.run_number) {
      return bad(record.run_id, 0, "the run id index does not point at this run");
    }
    return true;
  }

  // What the two summary databases must hold (summary_index.h), by database and key.
  struct SummaryIndex {
    std::map<std::string, std::string> keys, order;
    void add(SummaryEntries&& e) {
      keys.emplace(std::move(e.keys_key), std::move(e.keys_value));
      order.emplace(std::move(e.order_key), std::move(e.order_value));
    }
  };

  // Whether the stored entries under `prefix` are exactly `expected`'s; the run scopes'
  // entries, once checked, are kept for the ledger-wide check.
  Result<bool> same_summaries(std::string_view prefix, SummaryIndex& expected) {
    size_t seen = 0;
    bool same = true;
    ARTANA_RETURN_IF_ERROR(for_each_summary_entry(
        reader_, prefix,
        [&](std::string_view db, std::string_view key, std::string_view value) -> Status {
          const auto& want = db == "summary_keys" ? expected.keys : expected.order;
          auto it = want.find(std::string(key));
          if (it == want.end() || it->second != value) same = false;
          ++seen;
          return Status();
        }));
    same = same && seen == expected.keys.size() + expected.order.size();
    if (same && !prefix.empty()) {
      all_summaries_.keys.merge(expected.keys);
      all_summaries_.order.merge(expected.order);
    }
    return same;
  }

  Result<bool> same_index(MDB_dbi dbi, uint64_t run_number,
                          const std::map<std::string, std::string>& expected) {
    Cursor cursor;
    int rc = Cursor::open(reader_.txn(), dbi, cursor);
    if (rc != 0) return lmdb_status(rc, "reading an index", env_.data_path());
    std::string start;
    put_u64be(start, run_number);
    MDB_val key = to_val(start), val;
    size_t seen = 0;
    for (rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT)) {
      std::string_view k = from_val(key);
      if (k.size() < 8 || get_u64be(k, 0) != run_number) break;
      auto it = expected.find(std::string(k));
      if (it == expected.end() || from_val(val) != it->second) {
        return false;
      }
      ++seen;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "reading an index", env_.data_path());
    return seen == expected.size();
  }

  void publish(const std::string& run_id, uint64_t seq) {
    if (progress_ == nullptr) return;
    size_t n = std::min(run_id.size(), sizeof progress_->run_id - 1);
    std::memcpy(progress_->run_id, run_id.data(), n);
    progress_->run_id[n] = '\0';
    progress_->seq = seq;
  }

  bool bad(const std::string& run_id, uint64_t seq, std::string problem) {
    report_.ok = false;
    report_.bad_run_id = run_id;
    report_.bad_seq = seq;
    report_.problem = std::move(problem);
    return false;
  }

  LedgerEnv& env_;
  LedgerReader reader_;
  CheckingBlobSource blobs_;
  VerifyProgress* progress_;
  VerifyReport report_;
  std::map<std::string, Totals> tenant_totals_;
  // Every run's own spend and parent, for the tree spends.
  struct TreeNode {
    uint64_t run_number = 0;
    int64_t spend = 0;
    std::string parent;  // "" for a run without one
  };
  std::map<std::string, TreeNode> tree_;
  // (tenant, summary) -> the latest in log order, and every run scope's entries checked.
  std::map<std::pair<std::string, SummaryKey>, SummaryPlace> tenant_summaries_;
  SummaryIndex all_summaries_;
};

}  // namespace

Result<VerifyReport> verify_ledger(LedgerEnv& env, const std::optional<RunId>& run,
                                   VerifyProgress* progress) {
  ARTANA_ASSIGN_OR_RETURN(GuardedTxn txn, env.begin_read());
  Verifier verifier(env, txn.get(), progress);
  LedgerReader reader(env, txn.get());
  if (run) {
    auto record = reader.run_by_id(run->str());
    if (!record.ok() && record.status().code() == StatusCode::kNotFound) return record.status();
    if (!record.ok()) {
      VerifyReport report;
      report.ok = false;
      report.bad_run_id = run->str();
      report.problem = record.status().message();
      return report;
    }
    ARTANA_RETURN_IF_ERROR(verifier.run(*record).status());
    return verifier.report();
  }
  bool all_fine = true;
  Status scanned = reader.for_each_run([&](RunRecord&& record) -> Result<bool> {
    ARTANA_ASSIGN_OR_RETURN(all_fine, verifier.run(record));
    return all_fine;
  });
  if (!scanned.ok()) {
    if (scanned.code() != StatusCode::kCorruption) return scanned;
    VerifyReport report = verifier.report();
    report.ok = false;
    report.problem = scanned.message();
    return report;
  }
  if (all_fine) ARTANA_RETURN_IF_ERROR(verifier.ledger_wide().status());
  return verifier.report();
}

}  // namespace artana::kernel::ledger
