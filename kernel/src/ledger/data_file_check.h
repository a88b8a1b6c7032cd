// Checks data.mdb against its own meta pages before LMDB maps it: a file cut short (a
// truncated copy, a full disk during a copy) would otherwise be mapped and read past its
// end, which kills the process with SIGBUS instead of reporting the damage.
#pragma once

#include <string>

#include "artana/kernel/status.h"

namespace artana::kernel::ledger {

// OK when `path` does not exist, is empty (LMDB makes a new ledger), or holds every page its
// newest meta page's trees reach (checked by walking them only when the file ends before the
// meta's last page); corruption naming the file, its size and the missing page otherwise.
// Files LMDB itself would refuse (no LMDB magic) are left to LMDB.
Status check_data_file(const std::string& path);

}  // namespace artana::kernel::ledger
