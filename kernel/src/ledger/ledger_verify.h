// Ledger verification: every hash, link, seq, head, index and total, checked against the
// stored bytes (never a re-serialisation).
//
// LMDB trusts its page structure, so a damaged page can crash the reading process.
// verify_in_child therefore scans in another process: it re-executes this program
// (/proc/self/exe) with ARTANA_VERIFY_CHILD set, and a constructor in the kernel library runs
// the scan before main() — a fresh single-threaded process, where a plain fork() of a
// multithreaded one could deadlock on a lock (malloc's, OpenSSL's) another thread held. The
// child opens its own read-only environment, writes its report to a pipe and publishes the run
// and seq it is reading in shared memory; if it dies, the parent reports a crash at that
// position as corruption and lives on. The indexes are recomputed with index_event (event_index.h).
#pragma once

#include <optional>

#include "artana/kernel/event_index.h"
#include "artana/kernel/event_store.h"
#include "ledger/ledger_env.h"

namespace artana::kernel::ledger {

// Where a scan is, for the parent to name if the scan crashes.
struct VerifyProgress {
  char run_id[256];
  uint64_t seq;
};

// Scans within one read transaction of `env` (in whatever process calls it).
Result<VerifyReport> verify_ledger(LedgerEnv& env, const std::optional<RunId>& run,
                                   VerifyProgress* progress);

Result<VerifyReport> verify_in_child(LedgerEnv& env, const std::optional<RunId>& run);

}  // namespace artana::kernel::ledger
