#include "ledger/ledger_reader.h"

#include "artana/kernel/json_parse.h"

namespace artana::kernel::ledger {

std::string run_seq_key(uint64_t run_number, uint64_t seq) {
  std::string key;
  key.reserve(16);
  put_u64be(key, run_number);
  put_u64be(key, seq);
  return key;
}

std::string run_name_key(uint64_t run_number, std::string_view name) {
  std::string key;
  key.reserve(8 + name.size());
  put_u64be(key, run_number);
  key.append(name);
  return key;
}

std::string run_totals_key(uint64_t run_number) {
  std::string key = "r";
  put_u64be(key, run_number);
  return key;
}

std::string tenant_totals_key(std::string_view tenant_id) {
  std::string key = "t";
  key.append(tenant_id);
  return key;
}

std::string encode_totals(const Totals& totals) {
  std::string v;
  put_u64be(v, static_cast<uint64_t>(totals.spend_micro_usd));
  put_u64be(v, totals.events);
  put_u64be(v, static_cast<uint64_t>(totals.tree_spend_micro_usd));
  return v;
}

Result<Totals> decode_totals(std::string_view bytes, std::string_view where) {
  // 16 bytes: written before tree spend was kept (no run had children): the tree is the run.
  if (bytes.size() != 16 && bytes.size() != 24) {
    return Status::corruption("totals of {} are damaged", where);
  }
  const auto spend = static_cast<int64_t>(get_u64be(bytes, 0));
  const int64_t tree = bytes.size() == 24 ? static_cast<int64_t>(get_u64be(bytes, 16)) : spend;
  return Totals{spend, get_u64be(bytes, 8), tree};
}

Result<std::optional<uint64_t>> LedgerReader::find_run_number(std::string_view run_id) {
  // The store records valid ids only: any other (empty, longer than an LMDB key) is no run.
  if (!check_identifier("run id", run_id).ok()) return std::optional<uint64_t>();
  MDB_val key = to_val(run_id), val;
  int rc = mdb_get(txn_, env_.dbi().run_ids, &key, &val);
  if (rc == MDB_NOTFOUND) return std::optional<uint64_t>();
  if (rc != 0) return lmdb_status(rc, "looking up run " + std::string(run_id), env_.data_path());
  if (val.mv_size != 8) return Status::corruption("run id index entry of {} is damaged", run_id);
  return std::optional<uint64_t>(get_u64be(from_val(val)));
}

Result<RunRecord> LedgerReader::run_record(uint64_t run_number) {
  std::string k;
  put_u64be(k, run_number);
  MDB_val key = to_val(k), val;
  int rc = mdb_get(txn_, env_.dbi().runs, &key, &val);
  if (rc == MDB_NOTFOUND)
    return Status::corruption("run #{} is indexed but has no record", run_number);
  if (rc != 0)
    return lmdb_status(rc, "reading run #" + std::to_string(run_number), env_.data_path());
  return decode_run_record(from_val(val), run_number);
}

Status LedgerReader::for_each_run(const std::function<Result<bool>(RunRecord&&)>& visit) {
  Cursor cursor;
  int rc = Cursor::open(txn_, env_.dbi().runs, cursor);
  if (rc != 0) return lmdb_status(rc, "listing runs", env_.data_path());
  MDB_val key, val;
  for (rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_NEXT)) {
    if (key.mv_size != 8) return Status::corruption("{}: a run key is damaged", env_.data_path());
    ARTANA_ASSIGN_OR_RETURN(RunRecord record,
                            decode_run_record(from_val(val), get_u64be(from_val(key))));
    ARTANA_ASSIGN_OR_RETURN(bool more, visit(std::move(record)));
    if (!more) return Status();
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "listing runs", env_.data_path());
  return Status();
}

Result<RunRecord> LedgerReader::run_by_id(std::string_view run_id) {
  ARTANA_ASSIGN_OR_RETURN(std::optional<uint64_t> number, find_run_number(run_id));
  if (!number) return Status::not_found("no run '{}' in {}", run_id, env_.dir());
  return run_record(*number);
}

Result<std::optional<uint64_t>> LedgerReader::position(const RunRecord& run, uint64_t seq) {
  if (seq < run.first_seq || seq > run.head_seq) return std::optional<uint64_t>();
  // The last extent is in the run record: recent events need no index lookup.
  if (seq >= run.extent_seq) {
    return std::optional<uint64_t>(run.extent_position + (seq - run.extent_seq));
  }
  // The extent holding seq is the last one starting at or before it.
  Cursor cursor;
  int rc = Cursor::open(txn_, env_.dbi().run_extents, cursor);
  if (rc != 0) return lmdb_status(rc, "reading the event index", env_.data_path());
  std::string k = run_seq_key(run.run_number, seq);
  MDB_val key = to_val(k), val;
  rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_SET_RANGE);
  if (rc == 0 && from_val(key) != k) {
    rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_PREV);  // past it: step back one
  } else if (rc == MDB_NOTFOUND) {
    rc = mdb_cursor_get(cursor.get(), &key, &val, MDB_LAST);  // past every key
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return lmdb_status(rc, "reading the event index", env_.data_path());
  }
  std::string_view found = from_val(key);
  if (rc == MDB_NOTFOUND || found.size() != 16 || get_u64be(found, 0) != run.run_number ||
      get_u64be(found, 8) > seq || val.mv_size != 8) {
    return Status::corruption("run '{}' has no event index entry covering seq {}", run.run_id, seq);
  }
  return std::optional<uint64_t>(get_u64be(from_val(val)) + (seq - get_u64be(found, 8)));
}

Result<const std::pair<RunRecord, uint64_t>*> LedgerReader::fork_parent(const RunRecord& run) {
  if (auto it = fork_parents_.find(run.run_number); it != fork_parents_.end()) return &it->second;
  auto header = parse_json(run.header_json, "run header of " + run.run_id);
  if (!header.ok()) return Status::corruption("{}", header.status().message());
  const Json* from = header->find("forked_from");
  const Json* parent_id = from != nullptr ? from->find("run_id") : nullptr;
  if (parent_id == nullptr || !parent_id->is_string()) {
    return Status::corruption("run {} starts at seq {} but names no parent", run.run_id,
                              run.first_seq);
  }
  ARTANA_ASSIGN_OR_RETURN(RunRecord parent, run_by_id(parent_id->as_string()));
  auto [it, inserted] =
      fork_parents_.emplace(run.run_number, std::make_pair(std::move(parent), run.first_seq - 1));
  return &it->second;
}

Result<std::string_view> LedgerReader::event_value(const RunRecord& run, uint64_t seq) {
  if (seq < run.first_seq) {
    ARTANA_ASSIGN_OR_RETURN(const auto* parent, fork_parent(run));
    if (seq > parent->second) return Status::internal("fork prefix lookup past the fork point");
    return event_value(parent->first, seq);
  }
  ARTANA_ASSIGN_OR_RETURN(std::optional<uint64_t> pos, position(run, seq));
  if (!pos) return Status::not_found("run '{}' has no event with seq {}", run.run_id, seq);
  return log_value(*pos, run.run_id, seq);
}

Result<std::string_view> LedgerReader::log_value(uint64_t position, std::string_view run_id,
                                                 uint64_t seq) {
  std::string k;
  put_u64be(k, position);
  MDB_val key = to_val(k), val;
  int rc = 0;
  if (log_cursor_.get() == nullptr) {
    rc = Cursor::open(txn_, env_.dbi().log, log_cursor_);
    if (rc != 0) return lmdb_status(rc, "reading an event", env_.data_path());
  }
  // Reads in log order (a replay's results, verify) step the cursor a few entries forward
  // instead of searching the tree from its root again: a replay reads every other event (a
  // model step's terminal after its request), and the search touches more pages than the
  // steps do.
  constexpr uint64_t kMaxCursorSteps = 4;
  bool found = false;
  if (cursor_position_ != 0 && position > cursor_position_ &&
      position - cursor_position_ <= kMaxCursorSteps) {
    for (uint64_t at = cursor_position_; at < position && rc == 0; ++at) {
      rc = mdb_cursor_get(log_cursor_.get(), &key, &val, MDB_NEXT);
    }
    found = rc == 0 && from_val(key) == k;
  }
  if (!found) {  // not stepped to (positions are dense, so only a damaged log lands elsewhere)
    key = to_val(k);
    rc = mdb_cursor_get(log_cursor_.get(), &key, &val, MDB_SET_KEY);
  }
  cursor_position_ = rc == 0 ? position : 0;
  if (rc == MDB_NOTFOUND) {
    return Status::corruption("run '{}' seq {} points at log position {}, which is missing", run_id,
                              seq, position);
  }
  if (rc != 0) return lmdb_status(rc, "reading an event", env_.data_path());
  return from_val(val);
}

namespace {

// Where an event is, for messages: formatted only when something is wrong (every replayed
// result is read through here).
std::string event_where(const RunRecord& run, uint64_t seq) {
  return "run '" + run.run_id + "' seq " + std::to_string(seq);
}

// What is handed out (a replayed result, a recorded request) is what was written: an edited
// event is corruption here, not a result returned as if recorded. (Only a whole verify
// checks the links between events.)
Status check_hash(const StoredEvent& stored, const RunRecord& run, uint64_t seq) {
  if (Sha256::of(stored.canonical) == stored.hash) return Status();
  return Status::corruption(
      "{}: the stored bytes do not hash to the stored hash (altered after writing); run "
      "`artana ledger verify`",
      event_where(run, seq));
}

// A damaged index could point at another run's event: never hand that out as this one.
// (A fork's shared prefix is its parent's events, so the run id may differ; seq may not.)
Status check_place(const RunRecord& run, uint64_t seq, std::string_view found_run,
                   uint64_t found_seq) {
  if (found_seq == seq && (seq < run.first_seq || found_run == run.run_id)) return Status();
  return Status::corruption("{}: the event index points at run '{}' seq {}", event_where(run, seq),
                            found_run, found_seq);
}

}  // namespace

Result<Event> LedgerReader::event(const RunRecord& run, uint64_t seq, bool expand, bool envelope,
                                  size_t* stored_bytes) {
  ARTANA_ASSIGN_OR_RETURN(std::string_view value, event_value(run, seq));
  auto where = [&] { return event_where(run, seq); };
  Result<StoredEvent> stored = split_event_value(value, run.run_id);
  if (!stored.ok()) return split_event_value(value, where()).status();
  ARTANA_RETURN_IF_ERROR(check_hash(*stored, run, seq));
  Result<Event> parsed = parse_event(stored->canonical, stored->hash, run.run_id, envelope);
  if (!parsed.ok()) return parse_event(stored->canonical, stored->hash, where()).status();
  Event& e = *parsed;
  ARTANA_RETURN_IF_ERROR(check_place(run, seq, e.run_id.str(), e.seq));
  // Only a payload holding a reserved "$artana." key has references to expand: the text
  // says so faster than a walk of the tree.
  if (expand && has_reserved_key(stored->canonical)) {
    Status expanded = expand_payload(e.payload, *this, run.run_id);
    if (!expanded.ok()) return expand_payload(e.payload, *this, where());
    if (stored_bytes != nullptr) *stored_bytes = json_bytes(e.payload);
  } else if (stored_bytes != nullptr) {
    *stored_bytes = stored->canonical.size();
  }
  return parsed;
}

Result<PayloadText> LedgerReader::payload_text(const RunRecord& run, uint64_t seq,
                                               size_t* stored_bytes) {
  ARTANA_ASSIGN_OR_RETURN(std::string_view value, event_value(run, seq));
  Result<StoredEvent> stored = split_event_value(value, run.run_id);
  std::optional<EventLayout> layout;
  if (stored.ok() && !has_reserved_key(stored->canonical)) layout = event_layout(stored->canonical);
  if (!layout) {
    // References to expand, or not the layout we write: event() parses it and names problems.
    ARTANA_ASSIGN_OR_RETURN(Event e,
                            event(run, seq, /*expand=*/true, /*envelope=*/false, stored_bytes));
    return PayloadText{std::move(e.type), e.seq, {}, std::move(e.payload)};
  }
  ARTANA_RETURN_IF_ERROR(check_hash(*stored, run, seq));
  ARTANA_RETURN_IF_ERROR(check_place(run, seq, layout->run_id, layout->seq));
  if (stored_bytes != nullptr) *stored_bytes = stored->canonical.size();
  return PayloadText{std::string(layout->type), seq, std::string(layout->payload), Json()};
}

Status LedgerReader::for_each_event(const RunRecord& run, uint64_t from_seq,
                                    const std::function<Result<bool>(Event&&)>& visit,
                                    bool expand) {
  for (uint64_t seq = std::max<uint64_t>(from_seq, 1); seq <= run.head_seq; ++seq) {
    ARTANA_ASSIGN_OR_RETURN(Event e, event(run, seq, expand));
    ARTANA_ASSIGN_OR_RETURN(bool more, visit(std::move(e)));
    if (!more) break;
  }
  return Status();
}

Result<std::optional<uint64_t>> LedgerReader::indexed_seq(MDB_dbi dbi, uint64_t run_number,
                                                          std::string_view name) {
  std::string k = run_name_key(run_number, name);
  MDB_val key = to_val(k), val;
  int rc = mdb_get(txn_, dbi, &key, &val);
  if (rc == MDB_NOTFOUND) return std::optional<uint64_t>();
  if (rc != 0) return lmdb_status(rc, "reading an index", env_.data_path());
  // A `latest` entry: u64 BE seq | name (run_indexes.h).
  if (val.mv_size < 9) return Status::corruption("index entry for '{}' is damaged", name);
  return std::optional<uint64_t>(get_u64be(from_val(val)));
}

Result<Totals> LedgerReader::totals(std::string_view k) {
  MDB_val key = to_val(k), val;
  int rc = mdb_get(txn_, env_.dbi().totals, &key, &val);
  if (rc == MDB_NOTFOUND) return Totals{};
  if (rc != 0) return lmdb_status(rc, "reading totals", env_.data_path());
  return decode_totals(from_val(val), k.substr(1));
}

Result<std::string_view> LedgerReader::get_blob(const Sha256& hash) {
  ARTANA_ASSIGN_OR_RETURN(std::optional<std::string_view> content, find_blob(hash));
  if (!content) return Status::corruption("large value {} is missing", hash.hex());
  return *content;
}

Result<std::optional<std::string_view>> LedgerReader::find_blob(const Sha256& hash) {
  MDB_val key = to_val(hash.raw()), val;
  int rc = mdb_get(txn_, env_.dbi().blobs, &key, &val);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return lmdb_status(rc, "reading blob " + hash.hex(), env_.data_path());
  std::string_view v = from_val(val);
  if (v.empty() || v[0] != 0) return Status::corruption("blob {} is malformed", hash.hex());
  return std::optional<std::string_view>(v.substr(1));
}

}  // namespace artana::kernel::ledger
