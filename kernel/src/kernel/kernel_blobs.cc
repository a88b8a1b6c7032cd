// Kernel: script sources kept in the ledger's content-addressed blob store, so a run can be
// resumed under exactly the code it started with (`--pinned`).
#include "artana/kernel/kernel.h"

namespace artana::kernel {

// No tenant check: a source is named by its content, not owned by a run, and one copy is
// shared by every run (and tenant) that loads it. Reading one takes its 256-bit hash, which
// only a caller that saw the run's events (or the source itself) has.
Result<std::string> Kernel::store_source(std::string_view bytes) { return store_.put_blob(bytes); }

Result<std::optional<std::string>> Kernel::load_source(const std::string& sha256_hex) {
  return store_.get_blob(sha256_hex);
}

}  // namespace artana::kernel
