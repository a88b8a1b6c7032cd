// EventStore: the append-only, hash-chained ledger every run writes to.
//
// One implementation today (LMDB, lmdb_event_store.h); PostgreSQL later behind the same
// interface. The store knows nothing of what events mean beyond the ledger's indexing
// conventions (event_index.h):
// it assigns seq, timestamp, event_id, prev_hash and hash, keeps each run's head, the indexes
// and the running totals in the same transaction as the append, and guards each run with a
// fenced lease. Thread-safe: any thread may call anything; appends from all threads and runs
// are group-committed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/event.h"
#include "artana/kernel/event_index.h"
#include "artana/kernel/status.h"
#include "artana/kernel/step_index.h"

namespace artana::kernel {

enum class Durability {
  kFull,     // every commit synced; nothing committed is ever lost
  kEffects,  // data synced each commit, meta page not (a power loss can undo only the last
             // commit, never corrupt); full sync at barriers (before side effects, pause, end)
  kNone,     // no sync: survives a process crash (SIGKILL), NOT a power loss or OS crash
};
std::string_view durability_name(Durability d);
Result<Durability> parse_durability(std::string_view name);

// Stored as one byte in the run record (docs/ledger_format.md): append new statuses at the
// end, never reorder, so old ledgers read the same.
enum class RunStatus {
  kRunning,
  kPaused,
  kNeedsAttention,
  kCompleted,
  kFailed,
  kCancelled,
  kSleeping,  // waiting for a durable timer (Kernel::sleep); the scheduler asks wake_time
};
std::string_view run_status_name(RunStatus s);
Result<RunStatus> parse_run_status(std::string_view name);
// Completed, failed or cancelled: the run will not run a script again.
inline bool run_ended(RunStatus status) {
  return status == RunStatus::kCompleted || status == RunStatus::kFailed ||
         status == RunStatus::kCancelled;
}

// A run's owner. Fencing: `epoch` grows on every takeover, every append carries the epoch
// its owner was given, and an append with a stale epoch is refused.
struct Lease {
  std::string owner_id;  // empty: nobody owns the run
  std::string host;
  int64_t pid = 0;
  uint64_t pid_start = 0;  // the process's start time in clock ticks (guards pid reuse)
  int64_t expires_at_us = 0;
  uint64_t epoch = 0;
};

struct ForkPoint {
  RunId run_id;
  uint64_t seq = 0;  // the fork shares the parent's events 1..seq by reference
};

// What the caller fixes when a run is created.
struct RunHeader {
  RunId run_id;
  TenantId tenant_id;
  std::string script_hash;               // hex SHA-256 of the script and its modules, or empty
  std::optional<RunId> parent_run_id;    // a child run started by `parent_run_id`
  std::optional<ForkPoint> forked_from;  // a fork: history before fork.seq is the parent's
  Json metadata = Json::object();        // anything else the kernel keeps (tenant context)
};

// A run as the store keeps it.
struct RunInfo {
  RunHeader header;
  uint64_t run_number = 0;  // dense, in creation order: the ledger's internal key
  RunStatus status = RunStatus::kRunning;
  uint64_t first_seq = 1;  // fork_seq + 1 for a fork, else 1
  uint64_t head_seq = 0;   // last seq (fork_seq when a fork has no own event yet)
  Sha256 head_hash;        // hash at head_seq (genesis_hash() when head_seq == 0)
  int64_t created_at_us = 0;
  Lease lease;
};

// A run as the kernel loads it: its head and the latest event per name (event_index.h), read
// from the indexes without reading any event. Its step records go to a StepVisitor as they
// are read (EventStore::run_index).
struct RunIndex {
  RunInfo info;
  std::vector<std::pair<std::string, uint64_t>> latest;  // name, seq
};
// Takes one step record (its step key, its record) of a run being loaded. The records come in
// the index's order (by step key), each once; an error stops the read.
using StepVisitor = std::function<Status(std::string&& step_key, StepIndexRecord&& record)>;

struct Totals {
  int64_t spend_micro_usd = 0;
  uint64_t events = 0;
  // A run's: its spend and every descendant's (run:child), kept in each append's
  // transaction for every ancestor. A tenant's: its spend.
  int64_t tree_spend_micro_usd = 0;
};

// Inside an append's write transaction: checks and extra index writes that must commit
// (or fail) together with the events. Only valid during the `in_txn` callback.
class AppendTxn {
 public:
  virtual ~AppendTxn() = default;
  virtual const RunInfo& run() const = 0;  // as before this append
  virtual Result<Totals> run_totals() = 0;
  virtual Result<Totals> tenant_totals() = 0;
  // A private key space for callers' own indexes (the safety policy's reservations, …).
  virtual Result<std::optional<std::string>> get_index(std::string_view space,
                                                       std::string_view key) = 0;
  virtual Status put_index(std::string_view space, std::string_view key,
                           std::string_view value) = 0;
  virtual Status delete_index(std::string_view space, std::string_view key) = 0;
};

struct AppendRequest {
  RunId run_id;
  // The epoch this owner was given by an earlier append, or 0 to take the lease in this
  // append (refused with kLeaseHeld while another live owner holds it).
  uint64_t lease_epoch = 0;
  // A request from outside the run's owner (an operator's cancel): the append neither takes
  // nor checks the lease, which stays as it is; `expected_head_seq` still applies. The
  // owner sees the event when it next looks at the run's head.
  bool outside_owner = false;
  std::vector<EventDraft> drafts;  // appended in order, all or nothing
  // Creates the run in the same transaction, before its events (kAlreadyExists when the id
  // is taken): a new run exists whole — created, started, its code stored — or not at all,
  // for one commit instead of three.
  std::optional<RunHeader> create;
  // Stored content-addressed in the same transaction, before the events (a new run's script
  // source, which its script_loaded event names by hash), as put_blob stores them.
  std::vector<std::string> blobs;
  // The run's head the caller decided from (its last seq). Refused with kConflict when the
  // run has moved on since — another process appended — so nobody appends from stale state
  // (a worker settling a call another process completed meanwhile). Part of the store
  // contract: every store checks it in the append's transaction.
  std::optional<uint64_t> expected_head_seq;
  std::optional<RunStatus> new_status;
  // Releases the lease in the same transaction (the run ended: nothing more to append), so
  // ending a run costs no second commit. The epoch is kept, as release_lease keeps it.
  bool release_lease = false;
  // In kEffects mode, sync fully before reporting success: the caller is about to run a side
  // effect, pause, or end the run. Ignored in kFull (always synced) and kNone (never synced).
  bool barrier = false;
  // Runs inside the write transaction before the events are written; an error aborts this
  // request only. May run more than once if the transaction is retried (map growth), so it
  // must have no effect outside the transaction.
  std::function<Status(AppendTxn&)> in_txn;
  // Events a re-execution records again (a summary): the store may hold them back and
  // commit them in the transaction of its next write, before its next read, or at flush(),
  // instead of in one of their own. A process that dies first loses them, and the run's next
  // execution records them again. The result then carries the events' seqs, types and
  // payloads and their index entries, not what only the commit knows (hashes, timestamps,
  // ids), and a failed commit is reported by the run's next append. Needs
  // `expected_head_seq` and a held lease; ignored with anything else to do (a status, a
  // barrier, a callback, blobs, a new run).
  bool deferrable = false;
};

struct AppendResult {
  std::vector<Event> events;
  // What the store indexed for each event (event_index.h), so a caller folding the events
  // into its own view of the run need not compute it again. Empty when not provided.
  std::vector<IndexEntries> indexes;
  // The payload of each event that ends a step with a result a replay reads back (its
  // StepDelta kEnded, no inlined value), as its canonical text: what a replay would read
  // (EventStore::read_payload_texts). Empty for other events and for a payload with a large
  // value stored apart; the whole vector empty when the store does not provide them.
  std::vector<std::string> payload_texts;
  uint64_t lease_epoch = 0;
};

struct VerifyReport {
  bool ok = true;
  uint64_t runs_checked = 0;
  uint64_t events_checked = 0;
  // When !ok: the first bad run and seq (0 when the problem is not one event's) and why.
  std::string bad_run_id;
  uint64_t bad_seq = 0;
  std::string problem;
};

// How much room the ledger takes. The data file is kept zero-filled some way past the last
// page in use (so a durable commit overwrites allocated blocks and syncs once), so
// file_bytes runs ahead of used_bytes.
struct StorageStats {
  uint64_t used_bytes = 0;  // pages up to the last one in use, free-listed pages included
  uint64_t file_bytes = 0;
  uint64_t map_bytes = 0;  // the address space reserved; grows on demand
};

struct ExportOptions {
  // Replace large-value references with the values. The lines then no longer hash to their
  // `hash` member (the hash covers the references); off by default.
  bool inline_large_values = false;
};

// A recorded payload as read_payload_texts returns it.
struct PayloadText {
  std::string type;
  uint64_t seq = 0;
  std::string text;  // its canonical JSON text; empty when `payload` holds it
  Json payload;      // set instead of `text` (an expanded payload, or a store without texts)
};

// Where run:lookup looks: the run (its fork prefix included) or every run of its tenant.
enum class SummaryScope { kRun, kTenant };

// A keyed summary (latest_keyed_summaries): where it was recorded, its key and its value.
struct KeyedSummary {
  RunId run_id;
  uint64_t seq = 0;
  std::string key;
  Json value;
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  virtual Result<RunInfo> create_run(const RunHeader& header) = 0;
  virtual Result<RunInfo> run_info(const RunId& run) = 0;

  virtual Result<AppendResult> append(AppendRequest request) = 0;
  // Commits the appends held back (AppendRequest::deferrable). Their failures are reported
  // by their runs' next appends.
  virtual void flush() {}
  // Same, completing later: `on_done` runs on the store's commit thread (keep it short: post
  // to your own loop). An append that needs no sync may complete inline, before this returns.
  virtual void append_async(AppendRequest request,
                            std::function<void(Result<AppendResult>)> on_done) = 0;

  // A pipelined append: the result at once, the commit on the store's commit thread behind
  // every write issued before it, so the caller's thread never waits for a sync. The result
  // is the one the commit will have, minus what only the transaction knows (hashes,
  // timestamps, event ids): seqs after the request's expected head (which it needs, unless
  // it creates the run), its index entries, the lease epoch (taking the lease: the one the
  // run's record gives now; a takeover before the commit fails the append as fenced).
  // `on_committed` runs on the commit thread (keep it short) once the append has committed
  // — synced as the durability mode and `barrier` ask — or failed; never when this returns
  // an error (nothing was issued). A read of the run waits for its appends issued before
  // it (head and run_info excepted: they say what is committed). An append that fails
  // takes the run's later pipelined appends with it (their
  // expected heads are never reached). The base class appends here, then calls on_committed.
  virtual Result<AppendResult> append_pipelined(AppendRequest request,
                                                std::function<void(const Status&)> on_committed);
  // Commits the pipelined writes queued now on the calling thread, unless the store's commit
  // thread is at it: a caller with nothing else to do (waiting for its runs' commits) commits
  // them itself rather than waking that thread and sleeping until it is done. The default
  // does nothing (nothing is queued).
  virtual void commit_queued() {}
  // Lease writes in the same order as the run's pipelined appends, without waiting:
  // `on_done` as above. The base class writes here.
  virtual void renew_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                                     std::function<void(const Status&)> on_done);
  virtual void release_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                                       std::function<void(const Status&)> on_done);

  // Events with seq >= from_seq, in order; for a fork, the shared prefix comes from its parent.
  virtual Result<std::vector<Event>> read(const RunId& run, uint64_t from_seq = 1,
                                          size_t limit = SIZE_MAX) = 0;
  // One event (a fork's shared prefix from its parent); kNotFound outside the run's seqs.
  virtual Result<Event> read_event(const RunId& run, uint64_t seq) = 0;
  // The type, seq and payload of the events at `seqs`, in that order, from one snapshot (the
  // other envelope fields are left empty); stops early, after the first, once the payloads
  // read exceed `max_bytes` or before an event that cannot be read (its error is returned
  // when it is asked for first). What a replay reads ahead.
  virtual Result<std::vector<Event>> read_payloads(const RunId& run,
                                                   const std::vector<uint64_t>& seqs,
                                                   size_t max_bytes = SIZE_MAX) = 0;
  // The same read, each payload as its canonical text, unparsed (a replayed result handed to
  // a script goes from that text to the script's values without a tree in between). A payload
  // holding blob references is expanded instead: `payload` set, `text` empty. The base class
  // parses (read_payloads); the text is the store's to give.
  virtual Result<std::vector<PayloadText>> read_payload_texts(const RunId& run,
                                                              const std::vector<uint64_t>& seqs,
                                                              size_t max_bytes = SIZE_MAX);
  // A hint: `seqs` of `run` will be asked of read_payload_texts next, with `max_bytes` (a
  // replay's next batch of results). A store may read them meanwhile on another thread and
  // hand them to that call. The default does nothing.
  virtual void prefetch_payload_texts(const RunId& run, std::vector<uint64_t> seqs,
                                      size_t max_bytes) {
    (void)run, (void)seqs, (void)max_bytes;
  }
  // The run's head as committed so far: unlike the reads above, it does not wait for the
  // run's pipelined appends (run_info too).
  virtual Result<RunInfo> head(const RunId& run) = 0;
  // The run's step records (each to `on_step`, so the caller builds what it keeps without a
  // list in between: a long run's is megabytes) and latest-event entries, in one
  // consistent read.
  virtual Result<RunIndex> run_index(const RunId& run, const StepVisitor& on_step) = 0;
  // The terminal event recorded for `step_key`, or nullopt (none, or the step is open).
  virtual Result<std::optional<Event>> find_terminal(const RunId& run,
                                                     std::string_view step_key) = 0;
  virtual Result<std::optional<Event>> latest_summary(const RunId& run, std::string_view kind) = 0;
  // The latest run_summary of each key (its `key`, else its `step_key`) of `kind` in `run`'s
  // scope — its fork prefix included — or its tenant's, newest first in commit order, at most
  // `limit`; O(limit) however many summaries there are.
  virtual Result<std::vector<KeyedSummary>> latest_keyed_summaries(const RunId& run,
                                                                   SummaryScope scope,
                                                                   std::string_view kind,
                                                                   size_t limit) = 0;
  // An entry callers wrote with AppendTxn::put_index, or nullopt.
  virtual Result<std::optional<std::string>> read_index(std::string_view space,
                                                        std::string_view key) = 0;
  virtual Result<Totals> totals(const RunId& run) = 0;
  virtual Result<Totals> tenant_totals(const TenantId& tenant) = 0;
  virtual Result<std::vector<RunInfo>> list_runs(const TenantId& tenant,
                                                 std::optional<RunStatus> status = {}) = 0;
  // Every run, in creation order.
  virtual Result<std::vector<RunInfo>> list_all_runs() = 0;

  // Releases a lease this process holds (pause, run end), so another owner need not wait.
  virtual Status release_lease(const RunId& run, uint64_t lease_epoch) = 0;
  // Extends a lease this process holds at `lease_epoch` by the TTL from now, without an
  // append: a live owner keeps its run however long a model or tool call takes. kFenced
  // when someone else took the run over (stop executing it).
  virtual Status renew_lease(const RunId& run, uint64_t lease_epoch) = 0;
  // How long a lease lasts without an append or a renewal.
  virtual int64_t lease_ttl_us() const = 0;
  // Forces everything committed so far to disk (whatever the durability mode).
  virtual Status sync() = 0;

  // Checks every hash and link, seq continuity, heads, indexes and totals, in a child process
  // so a damaged page cannot crash the caller. A bad ledger is ok() with report.ok == false;
  // a Status error means verification could not run at all.
  virtual Result<VerifyReport> verify(std::optional<RunId> run = {}) = 0;
  // One line per event ('\n'-terminated): the canonical JSON of the whole event including
  // `hash`. All runs in creation order without `run`.
  virtual Status export_jsonl(std::optional<RunId> run,
                              const std::function<Status(std::string_view line)>& write,
                              ExportOptions options = {}) = 0;

  virtual Result<StorageStats> storage_stats() = 0;
  virtual const std::string& data_dir() const = 0;
  virtual Durability durability() const = 0;

  // ---- content-addressed blobs (script sources, shared by every run and tenant) ----
  // The largest blob put_blob accepts.
  static constexpr size_t kMaxBlobBytes = size_t{16} << 20;
  // Stores `bytes` under their SHA-256 unless a blob with that hash is already there, and
  // returns the hash (64 lowercase hex digits). Durable by the time it returns as an append
  // would be (in kEffects: synced, since events will reference it). kInvalidArgument past
  // kMaxBlobBytes.
  virtual Result<std::string> put_blob(std::string_view bytes) = 0;
  // The bytes stored under `sha256_hex`, or nullopt when there are none. kInvalidArgument for
  // a malformed hash; kCorruption when the stored bytes no longer hash to it.
  virtual Result<std::optional<std::string>> get_blob(std::string_view sha256_hex) = 0;
};

}  // namespace artana::kernel
