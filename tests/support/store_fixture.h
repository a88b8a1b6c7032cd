// Helpers for tests of the LMDB store: open one in a temp dir, build drafts, append steps.
#pragma once

#include <memory>
#include <string>

#include "artana/kernel/lmdb_event_store.h"
#include "support/temp_dir.h"

namespace artana::testing {

std::unique_ptr<kernel::EventStore> open_store(const std::string& dir,
                                               kernel::LmdbStoreOptions options = {});
kernel::RunInfo create_run(kernel::EventStore& store, const std::string& run,
                           const std::string& tenant = "acme");
// Appends one event of `type` with `payload`; REQUIRE-s success; returns it.
kernel::Event append_one(kernel::EventStore& store, const std::string& run, const std::string& type,
                         kernel::Json payload, uint64_t* epoch = nullptr);
// Reads a whole file.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace artana::testing
