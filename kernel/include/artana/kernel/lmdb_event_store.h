// The embedded ledger: an EventStore on one LMDB environment per data directory.
//
// Opened once per process per directory (a second open of the same directory in one process
// is refused: LMDB forbids it). Files are created 0600; directories on network filesystems
// are refused (LMDB's locking does not work there). Layout in docs/ledger_format.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "artana/kernel/event_index.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

struct LmdbStoreOptions {
  Durability durability = Durability::kEffects;
  // Address space reserved for the map; it doubles whenever a commit finds it full. The
  // file only grows with what is written.
  uint64_t initial_map_bytes = uint64_t{1} << 30;
  // How long a lease lasts without an append or renewal before another owner may take it.
  int64_t lease_ttl_ms = 30'000;
  // Strings, arrays and objects whose canonical JSON is longer than this are stored once,
  // content-addressed, and referenced from the payload.
  size_t large_value_bytes = 1024;
  // Microseconds since the Unix epoch for event timestamps and lease expiry; tests inject one.
  std::function<int64_t()> clock_us;
  // Open without writing (verify and export of a read-only ledger).
  bool read_only = false;
};

// The data directory: $ARTANA_HOME when set, else ./.artana
std::string default_data_dir();

Result<std::unique_ptr<EventStore>> open_lmdb_store(const std::string& dir,
                                                    LmdbStoreOptions options = {});

}  // namespace artana::kernel
