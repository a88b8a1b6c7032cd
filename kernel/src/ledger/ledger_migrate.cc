// Migrations of older ledger schemas, run when a writer opens the data directory, inside the
// transaction that opens the databases: a crash leaves the old schema whole.
//   2 -> 3: `steps` held the seq of each step's latest terminal, `summaries` the seq of the
//           latest run_summary per kind. Both are rebuilt from the events as step records
//           and the `latest` index (run_indexes.h); `summaries` is dropped.
//   3 -> 4: step records gained the inline value (record format 2, step_index.h): `steps`
//           is rebuilt from the events.
//   4 -> 5: the keyed-summary index (summary_index.h) is built from the events.
//   5 -> 6: `steps`, `latest` and `summary_keys` are keyed by names, not their hashes: all
//           three are rebuilt from the events (summary_order's keys did not change, but it
//           is rebuilt with them).
#include "kernel_log.h"
#include "ledger/ledger_env.h"
#include "ledger/ledger_reader.h"
#include "ledger/run_indexes.h"
#include "ledger/summary_index.h"

namespace artana::kernel::ledger {

Status LedgerEnv::migrate(MDB_txn* txn, uint64_t from_version) {
  if (from_version < 2 || from_version >= kSchemaVersion) {
    return Status::failed_precondition("{}: no migration from ledger schema version {}", data_path_,
                                       from_version);
  }
  int rc = 0;
  if (from_version == 2) {
    MDB_dbi summaries = 0;
    rc = mdb_dbi_open(txn, "summaries", 0, &summaries);
    if (rc == 0) rc = mdb_drop(txn, summaries, 1);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return lmdb_status(rc, "dropping the old summaries index", data_path_);
    }
  }
  rc = mdb_drop(txn, dbi_.steps, 0);
  if (rc != 0) return lmdb_status(rc, "clearing the old step index", data_path_);
  rc = mdb_drop(txn, dbi_.latest, 0);
  if (rc != 0) return lmdb_status(rc, "clearing the old latest index", data_path_);

  LedgerReader reader(*this, txn);
  WriteContext ctx(*this, txn);
  uint64_t runs = 0;
  Status rebuilt = reader.for_each_run([&](RunRecord&& record) -> Result<bool> {
    RunIndexes indexes;
    ARTANA_RETURN_IF_ERROR(fold_run_events(reader, record, record.head_seq, indexes));
    ARTANA_RETURN_IF_ERROR(put_run_indexes(ctx, record.run_number, indexes));
    ++runs;
    return true;
  });
  if (!rebuilt.ok()) return rebuilt;
  ARTANA_RETURN_IF_ERROR(rebuild_summary_index(reader, ctx));
  std::string version;
  put_u64be(version, kSchemaVersion);
  ARTANA_RETURN_IF_ERROR(ctx.put(dbi_.meta, "schema_version", version));
  kernel_log().info("ledger migrated path={} from_schema={} to_schema={} runs={}", data_path_,
                    from_version, kSchemaVersion, runs);
  return Status();
}

}  // namespace artana::kernel::ledger
