// Checks data.mdb against its own meta pages before LMDB maps it: a file cut short (a
// truncated copy, a full disk during a copy) would otherwise be mapped and read past its
// end, which kills the process with SIGBUS instead of reporting the damage.
#pragma once

#include <string>

#include "artana/kernel/status.h"

namespace artana::kernel::ledger {

// OK when `path` does not exist, is empty (LMDB makes a new ledger), or is at least as long
// as the pages its newest meta page says are in use; corruption naming the file and both
// sizes otherwise. Files LMDB itself would refuse (no LMDB magic) are left to LMDB.
Status check_data_file(const std::string& path);

}  // namespace artana::kernel::ledger
