#include "ledger/write_ops.h"
#include "kernel_log.h"
#include "ledger/lease_ops.h"

#include <map>

#include "artana/kernel/kernel_types.h"
#include "ledger/event_codec.h"
#include "ledger/ledger_reader.h"
#include "ledger/payload_codec.h"
#include "ledger/process_identity.h"
#include "ledger/run_indexes.h"

namespace artana::kernel::ledger {
namespace {

constexpr size_t kMaxEventTypeBytes = 64;

// Collects an append's large values (each once) to be written inside the transaction, in
// the form put_blob stores (blob_store.h): the same content-addressed blobs as sources.
class CollectingBlobSink : public BlobSink {
 public:
  explicit CollectingBlobSink(std::vector<PreparedBlob>& blobs) : blobs_(blobs) {}
  Status put_blob(const Sha256& key, std::string_view content) override {
    for (const PreparedBlob& known : blobs_) {
      if (known.key == key) return Status();
    }
    ARTANA_ASSIGN_OR_RETURN(PreparedBlob blob, prepare_blob(content, key));
    blobs_.push_back(std::move(blob));
    return Status();
  }

 private:
  std::vector<PreparedBlob>& blobs_;
};

// What `in_txn` callbacks see.
class AppendTxnImpl : public AppendTxn {
 public:
  AppendTxnImpl(WriteContext& ctx, LedgerReader& reader, const RunRecord& record)
      : ctx_(ctx), reader_(reader), record_(record) {}

  const RunInfo& run() const override {
    if (!info_) {
      auto info = to_run_info(record_);
      info_ = info.ok() ? std::move(info).value() : RunInfo{};
    }
    return *info_;
  }
  Result<Totals> run_totals() override {
    return reader_.totals(run_totals_key(record_.run_number));
  }
  Result<Totals> tenant_totals() override {
    return reader_.totals(tenant_totals_key(record_.tenant_id));
  }
  Result<std::optional<std::string>> get_index(std::string_view space,
                                               std::string_view key) override {
    ARTANA_ASSIGN_OR_RETURN(std::string k, aux_index_key(space, key));
    if (auto it = pending_.find(k); it != pending_.end()) return it->second;
    MDB_val mk = to_val(k), mv;
    int rc = mdb_get(ctx_.txn(), ctx_.env().dbi().aux, &mk, &mv);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>();
    if (rc != 0) return lmdb_status(rc, "reading an index", ctx_.env().data_path());
    return std::optional<std::string>(std::string(from_val(mv)));
  }
  Status put_index(std::string_view space, std::string_view key, std::string_view value) override {
    ARTANA_ASSIGN_OR_RETURN(std::string k, aux_index_key(space, key));
    pending_[std::move(k)] = std::string(value);
    return Status();
  }
  Status delete_index(std::string_view space, std::string_view key) override {
    ARTANA_ASSIGN_OR_RETURN(std::string k, aux_index_key(space, key));
    pending_[std::move(k)] = std::nullopt;
    return Status();
  }

  // Writes what the callback put or deleted; called only once it succeeded, so a refused
  // callback writes nothing.
  Status flush() {
    for (const auto& [k, value] : pending_) {
      ARTANA_RETURN_IF_ERROR(value ? ctx_.put(ctx_.env().dbi().aux, k, *value)
                                   : ctx_.del(ctx_.env().dbi().aux, k));
    }
    return Status();
  }

 private:
  WriteContext& ctx_;
  LedgerReader& reader_;
  const RunRecord& record_;
  mutable std::optional<RunInfo> info_;
  std::map<std::string, std::optional<std::string>> pending_;  // key -> value, or deleted
};

Status add_totals(WriteContext& ctx, const std::string& key, int64_t spend, uint64_t events,
                  int64_t tree_spend) {
  return ctx.update(ctx.env().dbi().totals, key,
                    [&](std::optional<std::string_view> stored) -> Result<std::string> {
                      Totals totals;
                      if (stored) {
                        ARTANA_ASSIGN_OR_RETURN(
                            totals, decode_totals(*stored, std::string_view(key).substr(1)));
                      }
                      totals.spend_micro_usd += spend;
                      totals.events += events;
                      totals.tree_spend_micro_usd += tree_spend;
                      return encode_totals(totals);
                    });
}

// A child run's spend counts in every ancestor's tree spend (run:child), in the append's
// transaction: a quota reading an ancestor's totals sees it at once.
Status add_tree_spend(WriteContext& ctx, LedgerReader& reader, const RunRecord& record,
                      int64_t spend) {
  ARTANA_ASSIGN_OR_RETURN(RunInfo info, to_run_info(record));
  std::optional<RunId> parent = info.header.parent_run_id;
  for (int depth = 0; parent && depth <= 2 * kMaxChildDepth; ++depth) {
    ARTANA_ASSIGN_OR_RETURN(RunRecord ancestor, reader.run_by_id(parent->str()));
    ARTANA_RETURN_IF_ERROR(add_totals(ctx, run_totals_key(ancestor.run_number), 0, 0, spend));
    ARTANA_ASSIGN_OR_RETURN(RunInfo ancestor_info, to_run_info(ancestor));
    parent = ancestor_info.header.parent_run_id;
  }
  return Status();
}

}  // namespace

Result<std::string> aux_index_key(std::string_view space, std::string_view key) {
  if (space.empty() || space.find('\0') != std::string_view::npos ||
      space.size() + key.size() + 1 > 480) {
    return Status::invalid_argument(
        "index space '{}' must be non-empty without NUL, and space + key at most 479 bytes", space);
  }
  std::string k(space);
  k += '\0';
  k.append(key);
  return k;
}

Status validate_event_type(std::string_view type) {
  bool ok = !type.empty() && type.size() <= kMaxEventTypeBytes;
  for (char c : type) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.');
  }
  if (!ok) {
    return Status::invalid_argument(
        "event type '{}' must be 1..{} characters of a-z, 0-9, '_' or '.'", type,
        kMaxEventTypeBytes);
  }
  return Status();
}

Status apply_create_run(WriteContext& ctx, const StoreConfig& config, const RunHeader& header,
                        RunInfo& created) {
  const Dbis& dbi = ctx.env().dbi();
  LedgerReader reader(ctx.env(), ctx.txn());
  ARTANA_ASSIGN_OR_RETURN(std::optional<uint64_t> existing,
                          reader.find_run_number(header.run_id.str()));
  if (existing) return Status::already_exists("run '{}' already exists", header.run_id.str());

  RunRecord record;
  RunIndexes fork_indexes;
  record.run_id = header.run_id.str();
  record.tenant_id = header.tenant_id.str();
  record.created_at_us = config.clock_us();
  if (header.forked_from) {
    ARTANA_ASSIGN_OR_RETURN(RunRecord parent, reader.run_by_id(header.forked_from->run_id.str()));
    const uint64_t fork_seq = header.forked_from->seq;
    if (parent.tenant_id != record.tenant_id) {
      return Status::invalid_argument("fork '{}' must belong to tenant '{}' like its parent",
                                      record.run_id, parent.tenant_id);
    }
    if (fork_seq > parent.head_seq) {
      return Status::invalid_argument("cannot fork '{}' at seq {}: its head is seq {}",
                                      parent.run_id, fork_seq, parent.head_seq);
    }
    record.first_seq = fork_seq + 1;
    record.head_seq = fork_seq;
    if (fork_seq > 0) {
      ARTANA_ASSIGN_OR_RETURN(std::string_view value, reader.event_value(parent, fork_seq));
      ARTANA_ASSIGN_OR_RETURN(StoredEvent stored, split_event_value(value, parent.run_id));
      record.head_hash = stored.hash;  // the fork's first event links to the shared prefix
      // The fork's indexes cover its shared prefix, as it stands at the fork point.
      ARTANA_RETURN_IF_ERROR(fold_run_events(reader, parent, fork_seq, fork_indexes));
    }
  }
  ARTANA_ASSIGN_OR_RETURN(record.header_json, encode_header_json(header));

  ARTANA_ASSIGN_OR_RETURN(std::string next_key, ctx.last_key(dbi.runs));
  record.run_number = next_key.empty() ? 1 : get_u64be(next_key) + 1;
  ARTANA_ASSIGN_OR_RETURN(created, to_run_info(record));

  // Every check passed: from here on only LMDB itself can fail.
  std::string number;
  put_u64be(number, record.run_number);
  ARTANA_RETURN_IF_ERROR(ctx.put(dbi.run_ids, record.run_id, number));
  ARTANA_RETURN_IF_ERROR(ctx.put(dbi.runs, number, encode_run_record(record), MDB_APPEND));
  ARTANA_RETURN_IF_ERROR(put_run_indexes(ctx, record.run_number, fork_indexes));
  return ctx.put(dbi.tenant_runs, record.tenant_id, number);
}

uint64_t PreparedAppend::bytes() const {
  constexpr uint64_t kEnvelopeBytes = 512;  // ids, hashes, index entries
  uint64_t total = 0;
  for (const PreparedEvent& e : events) total += e.payload_text.size() + kEnvelopeBytes;
  for (const PreparedBlob& blob : blobs) total += blob.value.size() + 64;
  if (creates_run) total += 1024;
  return total;
}

Result<PreparedAppend> prepare_append(const StoreConfig& config, const AppendRequest& request) {
  PreparedAppend prepared;
  prepared.events.reserve(request.drafts.size());
  CollectingBlobSink blobs(prepared.blobs);
  for (const EventDraft& draft : request.drafts) {
    ARTANA_RETURN_IF_ERROR(validate_event_type(draft.type));
    PreparedEvent& event = prepared.events.emplace_back();
    ARTANA_ASSIGN_OR_RETURN(event.entries, index_event(draft.type, draft.payload));
    ARTANA_RETURN_IF_ERROR(
        encode_payload(draft.payload, config.large_value_bytes, blobs, event.payload_text));
    event.event_id = new_event_id();
  }
  for (const std::string& bytes : request.blobs) {
    ARTANA_RETURN_IF_ERROR(blobs.put_blob(Sha256::of(bytes), bytes));
  }
  prepared.creates_run = request.create.has_value();
  return prepared;
}

Status check_run_header(const RunHeader& header) {
  ARTANA_RETURN_IF_ERROR(check_identifier("run id", header.run_id.str()));
  ARTANA_RETURN_IF_ERROR(check_identifier("tenant id", header.tenant_id.str()));
  if (!header.script_hash.empty() && !Sha256::from_hex(header.script_hash).ok()) {
    return Status::invalid_argument("script_hash '{}' is not 64 hex digits", header.script_hash);
  }
  return Status();
}

Status check_append_request(const AppendRequest& request) {
  // An append of no events only takes the run's lease at its head (Kernel::hold_lease: an
  // execution about to make a live call it records only once answered).
  const bool takes_lease_only = request.lease_epoch == 0 && !request.outside_owner &&
                                !request.create && request.expected_head_seq &&
                                !request.new_status && !request.release_lease;
  if (request.drafts.empty() && !takes_lease_only) {
    return Status::invalid_argument(
        "append to '{}' has no events (an append of none may only take the run's lease: no "
        "epoch held, an expected head, no status)",
        request.run_id.str());
  }
  if (!request.create) return Status();
  ARTANA_RETURN_IF_ERROR(check_run_header(*request.create));
  // apply_append creates the run before these would be checked (GroupCommit's rule: no
  // refusal after a write), so a creating append may not ask for them.
  if (request.create->run_id != request.run_id || request.in_txn || request.outside_owner ||
      request.expected_head_seq.value_or(0) != 0) {
    return Status::invalid_argument(
        "an append creating run '{}' must be its owner's first, to that run, with no "
        "transaction callback",
        request.run_id.str());
  }
  return Status();
}

namespace {
// Whether AppendResult::payload_texts carries the event's stored text: a step's terminal a
// replay reads, with every value in it (a reference would have to be expanded).
bool text_returned(const PreparedEvent& event) {
  const std::optional<StepDelta>& step = event.entries.step;
  return step && step->role == StepDelta::Role::kEnded && !step->value.has() &&
         !has_reserved_key(event.payload_text);
}
}  // namespace

AppendResult predicted_append(AppendRequest& request, const PreparedAppend& prepared, uint64_t head,
                              uint64_t lease_epoch) {
  AppendResult result;
  result.events.reserve(request.drafts.size());
  result.indexes.reserve(request.drafts.size());
  result.payload_texts.reserve(request.drafts.size());
  for (size_t i = 0; i < request.drafts.size(); ++i) {
    Event& event = result.events.emplace_back();
    event.run_id = request.run_id;
    event.seq = head + 1 + i;
    event.type = request.drafts[i].type;
    event.payload = std::move(request.drafts[i].payload);
    result.indexes.push_back(prepared.events[i].entries);
    const PreparedEvent& written = prepared.events[i];  // still to be written: copied
    result.payload_texts.push_back(text_returned(written) ? written.payload_text : std::string());
  }
  result.lease_epoch = lease_epoch;
  return result;
}

void attach_payloads(AppendRequest& request, PreparedAppend& prepared, AppendResult& result) {
  result.indexes.clear();
  result.indexes.reserve(result.events.size());
  result.payload_texts.clear();
  result.payload_texts.reserve(result.events.size());
  for (size_t i = 0; i < result.events.size() && i < request.drafts.size(); ++i) {
    result.events[i].payload = std::move(request.drafts[i].payload);
    PreparedEvent& written = prepared.events[i];
    result.payload_texts.push_back(text_returned(written) ? std::move(written.payload_text)
                                                          : std::string());
    result.indexes.push_back(std::move(written.entries));
  }
}

Status apply_append(WriteContext& ctx, const StoreConfig& config, AppendRequest& request,
                    const PreparedAppend& prepared, AppendResult& result) {
  const Dbis& dbi = ctx.env().dbi();
  // The blobs (large values, AppendRequest::blobs) are checked before anything is written,
  // then a new run is created (AppendRequest::create); once it is, nothing below can refuse
  // (LmdbEventStore::append allows no in_txn, outside owner or expected head other than 0
  // with a creation), so a refused op still leaves the transaction as it was.
  std::vector<const PreparedBlob*> blobs_to_write;
  for (const PreparedBlob& blob : prepared.blobs) {
    ARTANA_ASSIGN_OR_RETURN(bool needed, check_put_blob(ctx, blob));
    if (needed) blobs_to_write.push_back(&blob);
  }
  if (request.create) {
    RunInfo created;
    ARTANA_RETURN_IF_ERROR(apply_create_run(ctx, config, *request.create, created));
  }
  LedgerReader reader(ctx.env(), ctx.txn());
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(request.run_id.str()));
  if (request.expected_head_seq && *request.expected_head_seq != record.head_seq) {
    return Status::conflict(
        "run '{}' moved on: its head is seq {}, this append was decided at seq {} (another "
        "process appended meanwhile); reload the run and decide again",
        record.run_id, record.head_seq, *request.expected_head_seq);
  }
  if (!request.outside_owner) ARTANA_RETURN_IF_ERROR(take_or_check_lease(config, request, record));
  std::optional<AppendTxnImpl> view;
  if (request.in_txn) {
    view.emplace(ctx, reader, record);
    ARTANA_RETURN_IF_ERROR(request.in_txn(*view));
  }

  // Every check passed: from here on only LMDB itself can fail.
  if (view) ARTANA_RETURN_IF_ERROR(view->flush());
  for (const PreparedBlob* blob : blobs_to_write) ARTANA_RETURN_IF_ERROR(write_blob(ctx, *blob));
  result.events.clear();
  result.events.reserve(prepared.events.size());
  int64_t spend = 0;
  std::string value, position_key;
  const std::string timestamp = format_timestamp(config.clock_us());
  EventIndexWriter indexes(ctx, record.run_number, record.tenant_id);
  indexes.reserve(prepared.events.size());
  for (size_t i = 0; i < prepared.events.size(); ++i) {
    const PreparedEvent& prep = prepared.events[i];
    Event& event = result.events.emplace_back();
    event.event_id = prep.event_id;
    event.run_id = request.run_id;
    event.tenant_id = TenantId(record.tenant_id);
    event.seq = record.head_seq + 1;
    event.type = request.drafts[i].type;
    event.timestamp = timestamp;
    event.prev_hash = record.head_hash;
    Envelope envelope{event.event_id, record.run_id,   record.tenant_id, event.seq,
                      event.type,     event.timestamp, &event.prev_hash};
    ARTANA_ASSIGN_OR_RETURN(event.hash, encode_event_value(envelope, prep.payload_text, value));

    ARTANA_ASSIGN_OR_RETURN(uint64_t position, ctx.next_log_position());
    position_key.clear();
    put_u64be(position_key, position);
    // Positions only grow, so every log insert is an append: pages fill completely.
    ARTANA_RETURN_IF_ERROR(ctx.put(dbi.log, position_key, value, MDB_APPEND));
    // Consecutive with the run's last extent: nothing to index (the run record keeps it).
    const bool has_own_events = record.head_seq >= record.first_seq;
    if (!has_own_events || position != record.extent_position + (event.seq - record.extent_seq)) {
      ARTANA_RETURN_IF_ERROR(
          ctx.put(dbi.run_extents, run_seq_key(record.run_number, event.seq), position_key));
      record.extent_seq = event.seq;
      record.extent_position = position;
    }

    ARTANA_RETURN_IF_ERROR(indexes.add(prep.entries, event.seq, position));
    spend += prep.entries.spend_micro_usd;
    record.head_seq = event.seq;
    record.head_hash = event.hash;
  }
  ARTANA_RETURN_IF_ERROR(indexes.flush());
  const uint64_t count = prepared.events.size();
  ARTANA_RETURN_IF_ERROR(add_totals(ctx, run_totals_key(record.run_number), spend, count, spend));
  ARTANA_RETURN_IF_ERROR(add_totals(ctx, tenant_totals_key(record.tenant_id), spend, count, spend));
  if (spend != 0) ARTANA_RETURN_IF_ERROR(add_tree_spend(ctx, reader, record, spend));
  if (request.new_status) record.status = *request.new_status;
  if (request.release_lease && !request.outside_owner) clear_owner(record.lease);
  std::string number;
  put_u64be(number, record.run_number);
  ARTANA_RETURN_IF_ERROR(ctx.put(dbi.runs, number, encode_run_record(record)));
  result.lease_epoch = record.lease.epoch;
  return Status();
}

}  // namespace artana::kernel::ledger
