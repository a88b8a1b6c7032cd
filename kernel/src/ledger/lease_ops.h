// The lease rules of the ledger's writes (lease_ops.cc); lease_takeover, apply_renew_lease and
// apply_release_lease are declared with the other writes (write_ops.h).
#pragma once

#include "ledger/write_ops.h"

namespace artana::kernel::ledger {

// Checks `request` against `record`'s lease and takes or extends it (a takeover increments the
// epoch and logs whom it was taken from); the record is written by the caller.
Status take_or_check_lease(const StoreConfig& config, const AppendRequest& request,
                           RunRecord& record);
// Nobody owns the run any more. The epoch is kept: the next owner's takeover increments it,
// fencing any late append of the last one.
void clear_owner(Lease& lease);

}  // namespace artana::kernel::ledger
