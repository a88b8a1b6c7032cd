// Edits a ledger's databases directly, as damage or an older build would have left them.
// For the kernel's white-box tests (they include kernel/src).
#pragma once

#include <catch2/catch.hpp>
#include <functional>

#include "ledger/ledger_env.h"
#include "support/kernel_fixture.h"

namespace artana::testing {

// Closes the host's store, lets `edit` change the ledger's databases in one write transaction
// (what a damaged or older ledger would hold), and reopens it, as a new process would.
inline void edit_raw_ledger(KernelHost& host,
                            const std::function<void(kernel::ledger::LedgerEnv&, MDB_txn*)>& edit) {
  host.kernel.reset();
  host.store.reset();
  {
    auto env = kernel::ledger::LedgerEnv::open(host.dir.str(), kernel::LmdbStoreOptions{});
    REQUIRE(env.ok());
    auto txn = (*env)->begin_write();
    REQUIRE(txn.ok());
    edit(**env, txn->get());
    REQUIRE(txn->txn.commit() == 0);
  }
  host.reopen();
}

}  // namespace artana::testing
