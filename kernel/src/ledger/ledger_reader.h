// LedgerReader: lookups on one open transaction (read or write). Borrowed txn; not owning.
//
// Everything that reads the ledger goes through here, so the store, the append path and
// verify agree on the layout. Views returned point into the LMDB map and die with the txn.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/event.h"
#include "artana/kernel/event_store.h"
#include "ledger/event_codec.h"
#include "ledger/ledger_env.h"
#include "ledger/payload_codec.h"
#include "ledger/run_record.h"

namespace artana::kernel::ledger {

std::string run_seq_key(uint64_t run_number, uint64_t seq);
// u64 BE run number · name (a step key, a latest-index name): the `steps` and `latest` keys.
// The name itself, not a hash of it, so a run's entries sort by name: the steps a run records
// one after another (wake:7/…, wake:8/…) land in the same or neighbouring leaves, where a
// hash scattered them over the run's whole range (a cold leaf, and its copy, per step).
std::string run_name_key(uint64_t run_number, std::string_view name);
std::string run_totals_key(uint64_t run_number);
std::string tenant_totals_key(std::string_view tenant_id);
std::string encode_totals(const Totals& totals);
Result<Totals> decode_totals(std::string_view bytes, std::string_view where);

class LedgerReader : public BlobSource {
 public:
  LedgerReader(const LedgerEnv& env, MDB_txn* txn) : env_(env), txn_(txn) {}

  Result<std::optional<uint64_t>> find_run_number(std::string_view run_id);
  Result<RunRecord> run_record(uint64_t run_number);
  // Every run record in creation order; stops early when `visit` returns false.
  Status for_each_run(const std::function<Result<bool>(RunRecord&&)>& visit);
  // kNotFound naming the run when there is none.
  Result<RunRecord> run_by_id(std::string_view run_id);

  // The stored value (format byte, hash, canonical text) of `seq` in `run`, following a fork
  // to its parent for the shared prefix.
  Result<std::string_view> event_value(const RunRecord& run, uint64_t seq);
  // `envelope` false: see parse_event (what a replay reads).
  // `stored_bytes`, when given, gets about what the payload holds in memory: the stored
  // text's size, or the expanded payload's json_bytes when it had references.
  Result<Event> event(const RunRecord& run, uint64_t seq, bool expand = true, bool envelope = true,
                      size_t* stored_bytes = nullptr);
  // The event at `seq` as read_payload_texts returns it: checked like event() (its hash, its
  // place), the payload's text unparsed unless it holds references to expand.
  Result<PayloadText> payload_text(const RunRecord& run, uint64_t seq, size_t* stored_bytes);
  // The stored value at a log position (run_id and seq name it in errors).
  Result<std::string_view> log_value(uint64_t position, std::string_view run_id, uint64_t seq);
  // Calls `visit` for seq in [from, head], in order; stops early when it returns false.
  Status for_each_event(const RunRecord& run, uint64_t from_seq,
                        const std::function<Result<bool>(Event&&)>& visit, bool expand = true);
  // The seq of the `latest` index entry for `name` (run_indexes.h), or nullopt.
  Result<std::optional<uint64_t>> indexed_seq(MDB_dbi dbi, uint64_t run_number,
                                              std::string_view name);
  Result<Totals> totals(std::string_view key);
  // A large value: kCorruption when it is missing (an event references it).
  Result<std::string_view> get_blob(const Sha256& key) override;
  // The content stored under `key` (format byte stripped), or nullopt; kCorruption when the
  // stored value is malformed. Does not check the content against the key.
  Result<std::optional<std::string_view>> find_blob(const Sha256& key);

  const LedgerEnv& env() const { return env_; }
  MDB_txn* txn() const { return txn_; }

 private:
  // The parent record and fork seq of a fork, from its header; cached per reader (one
  // transaction), so reading a fork's shared prefix parses its header once.
  Result<const std::pair<RunRecord, uint64_t>*> fork_parent(const RunRecord& run);
  // The log position of the run's own event `seq` (nullopt outside first_seq..head_seq).
  Result<std::optional<uint64_t>> position(const RunRecord& run, uint64_t seq);

  const LedgerEnv& env_;
  MDB_txn* txn_;
  Cursor log_cursor_;             // opened on the first log read
  uint64_t cursor_position_ = 0;  // where log_cursor_ stands (0: nowhere known)
  std::map<uint64_t, std::pair<RunRecord, uint64_t>> fork_parents_;  // by the fork's number
};

}  // namespace artana::kernel::ledger
