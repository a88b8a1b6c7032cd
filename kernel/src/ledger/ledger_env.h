// LedgerEnv: the LMDB environment of one data directory, its databases, and map growth.
//
// Databases (docs/ledger_format.md):
//   meta        "schema_version" -> u32 BE; "next_run_number" -> u64 BE
//   run_ids     run_id -> run_number (u64 BE)
//   runs        run_number -> RunRecord (run_record.h)
//   log         position (u64 BE, global append order) -> stored event (event_codec.h)
//   run_extents run_number | first seq -> log position of that seq: an extent of the run's
//               events at consecutive positions, up to the next extent or the run's head
//   tenant_runs tenant_id -> run_number (DUPSORT, DUPFIXED)
//   steps       run_number | step_key -> the step's record (step_index.h): kind, seqs,
//               request hash, PII counts, key; what a run is loaded by
//   latest      run_number | name -> u64 BE seq | name: the latest event per name (run facts
//               and summaries, event_index.h)
//   totals      'r' run_number | 't' tenant_id -> i64 spend_micro_usd | u64 events
//   blobs       SHA-256(content) -> u8 format=0 | content (large values; put_blob sources)
//   aux         space '\0' key -> value (callers' own indexes, AppendTxn::put_index)
// Events go to `log` in commit order so every insert is an append (full pages, one dirty
// region per commit). A run's events are mostly at consecutive positions (an append's events
// always are; a run appending alone, all of them), so `run_extents` holds one entry per
// stretch of consecutive positions rather than one per event.
//
// Thread-safe. Every transaction holds the resize guard shared; growing the map takes it
// exclusively, because mdb_env_set_mapsize requires that no transaction is active.
#pragma once

#include <lmdb.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "artana/kernel/event_index.h"
#include "artana/kernel/lmdb_event_store.h"
#include "artana/kernel/status.h"
#include "ledger/file_space.h"
#include "ledger/lmdb_handles.h"
#include "ledger/page_warmer.h"

namespace artana::kernel::ledger {

// 3: `steps` holds step records and `latest` replaced `summaries` (2 migrates on open).
// 6: `steps`, `latest` and `summary_keys` keyed by the name, not its hash (5 migrates).
inline constexpr uint32_t kSchemaVersion = 6;
// The longest key an index holds: summary_keys' ('t' · SHA-256(tenant) · SHA-256(kind) · a
// key of up to kMaxStepKeyBytes). The others are shorter (steps: run number · step key).
inline constexpr size_t kMaxIndexKeyBytes = 1 + 32 + 32 + kMaxStepKeyBytes;

struct Dbis {
  MDB_dbi meta, run_ids, runs, log, run_extents, tenant_runs, steps, latest, totals, blobs, aux,
      summary_keys, summary_order;
};

// A transaction together with the shared resize guard it needs.
struct GuardedTxn {
  std::shared_lock<std::shared_mutex> guard;
  Txn txn;
  MDB_txn* get() const { return txn.get(); }
};

class LedgerEnv {
 public:
  static Result<std::unique_ptr<LedgerEnv>> open(const std::string& dir,
                                                 const LmdbStoreOptions& options);
  // A read-only environment for a forked verify child: not entered in the process registry
  // (the child must not touch a lock another thread may have held at fork time).
  static Result<std::unique_ptr<LedgerEnv>> open_in_child(const std::string& dir);
  ~LedgerEnv();
  LedgerEnv(const LedgerEnv&) = delete;
  LedgerEnv& operator=(const LedgerEnv&) = delete;

  Result<GuardedTxn> begin_read();
  // REQUIRES: only the group-commit leader calls this (one write transaction per process).
  Result<GuardedTxn> begin_write();
  // Doubles the map. REQUIRES: the caller holds no transaction.
  Status grow_map();
  // Forces data and meta pages to disk.
  Status sync();
  // Makes sure the disk blocks a batch of about `batch_bytes` can touch are allocated
  // (file_space.h); kDiskFull when they cannot be.
  // REQUIRES: the caller holds a write transaction.
  Status reserve_space(uint64_t batch_bytes);
  // Like reserve_space, but kDiskFull in every mode when the blocks cannot be allocated, for
  // one large write (a blob): in the synced modes LMDB's pwrite would otherwise fail halfway
  // on a full disk and report a short write as EIO.
  // REQUIRES: the caller holds a write transaction.
  Status require_space(uint64_t bytes);
  Result<StorageStats> storage_stats();
  // Pages the mapped mode's warmer has touched ahead of the commits (page_warmer.h).
  uint64_t pages_warmed() const { return warmer_ ? warmer_->pages_warmed() : 0; }
  // Clears reader slots left by dead processes; returns how many.
  int check_stale_readers();

  MDB_env* env() const { return env_; }
  const Dbis& dbi() const { return dbi_; }
  const std::string& dir() const { return dir_; }
  const std::string& data_path() const { return data_path_; }
  bool read_only() const { return read_only_; }

 private:
  LedgerEnv() = default;
  static Result<std::unique_ptr<LedgerEnv>> open_env(const std::string& dir,
                                                     const LmdbStoreOptions& options,
                                                     bool use_registry);
  Status open_databases();
  // Brings an older schema to kSchemaVersion inside `txn` (ledger_migrate.cc).
  Status migrate(MDB_txn* txn, uint64_t from_version);
  Result<GuardedTxn> begin(unsigned flags);
  // Hands the pages between the writer's floor and the reservation's end to the warmer.
  void warm_ahead();

  MDB_env* env_ = nullptr;
  Dbis dbi_{};
  std::string dir_;
  std::string data_path_;
  bool read_only_ = false;
  bool registered_ = false;
  uint64_t page_bytes_ = 4096;
  std::unique_ptr<FileSpace> space_;
  std::shared_mutex resize_guard_;
  std::unique_ptr<PageWarmer> warmer_;  // the mapped mode only; destroyed before the map
  uint64_t first_floor_ = 0;            // the writer's floor when this process first wrote
};

}  // namespace artana::kernel::ledger
