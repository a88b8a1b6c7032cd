#include "support/store_fixture.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

namespace artana::testing {

using namespace artana::kernel;

std::unique_ptr<EventStore> open_store(const std::string& dir, LmdbStoreOptions options) {
  auto store = open_lmdb_store(dir, std::move(options));
  INFO(store.status().to_string());
  REQUIRE(store.ok());
  return std::move(store).value();
}

RunInfo create_run(EventStore& store, const std::string& run, const std::string& tenant) {
  RunHeader header;
  header.run_id = RunId(run);
  header.tenant_id = TenantId(tenant);
  auto created = store.create_run(header);
  INFO(created.status().to_string());
  REQUIRE(created.ok());
  return *created;
}

Event append_one(EventStore& store, const std::string& run, const std::string& type, Json payload,
                 uint64_t* epoch) {
  AppendRequest req;
  req.run_id = RunId(run);
  req.lease_epoch = epoch != nullptr ? *epoch : 0;
  req.drafts.push_back(EventDraft{type, std::move(payload)});
  auto result = store.append(std::move(req));
  INFO(result.status().to_string());
  REQUIRE(result.ok());
  if (epoch != nullptr) *epoch = result->lease_epoch;
  return result->events.back();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace artana::testing
