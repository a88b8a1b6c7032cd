// Starting a run: created, started and its source stored in one commit, or nothing at all.
#include <catch2/catch.hpp>

#include <lmdb.h>

#include "artana/kernel/kernel.h"
#include "artana/kernel/sha256.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::create_run;
using artana::testing::events_of;
using artana::testing::KernelHost;
using artana::testing::start_request;

namespace {

// The id of the ledger's last committed write transaction, read with LMDB itself once the
// store is closed: one more per commit.
size_t last_txnid(const std::string& dir) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_mapsize(env, size_t{1} << 30) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 64) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600) == 0);
  MDB_envinfo info;
  REQUIRE(mdb_env_info(env, &info) == 0);
  mdb_env_close(env);
  return info.me_last_txnid;
}

void close(KernelHost& host) {
  host.kernel.reset();
  host.store.reset();
}

StartRunRequest with_source(const std::string& run, const std::string& source) {
  StartRunRequest request = start_request(run);
  request.sources.push_back(source);
  request.script_identity =
      Json::object({{"entry", Json::object({{"sha256", Sha256::of(source).hex()}})}});
  return request;
}

}  // namespace

TEST_CASE("a new run is created, started and its source stored in one commit", "[kernel][start]") {
  KernelHost host;
  close(host);
  const size_t before = last_txnid(host.dir.str());
  host.reopen();  // opening commits nothing on an existing ledger; measured, not assumed
  close(host);
  const size_t opening = last_txnid(host.dir.str()) - before;

  host.reopen();
  const std::string source = "return function(run) return 1 end";
  REQUIRE(host.kernel->start_run(with_source("r1", source)).ok());
  close(host);
  CHECK(last_txnid(host.dir.str()) - before - opening == 1);

  host.reopen();
  auto events = events_of(*host.store, "r1");
  REQUIRE(events.size() == 2);
  CHECK(events[0].type == "run_started");
  CHECK(events[1].type == "script_loaded");
  auto stored = host.kernel->load_source(Sha256::of(source).hex());
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK(**stored == source);
  // The run goes on from the state start_run built without reading it back.
  REQUIRE(host.kernel->complete(TenantId("acme"), RunId("r1"), Json(1)).ok());
  CHECK(*host.kernel->status(TenantId("acme"), RunId("r1")) == RunStatus::kCompleted);
}

TEST_CASE("a start refused because its id is taken stores nothing", "[kernel][start]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(with_source("r1", "return 1")).ok());
  auto again = host.kernel->start_run(with_source("r1", "return 2"));
  CHECK(again.status().code() == StatusCode::kAlreadyExists);
  auto stored = host.kernel->load_source(Sha256::of(std::string("return 2")).hex());
  REQUIRE(stored.ok());
  CHECK(!stored->has_value());
  CHECK(events_of(*host.store, "r1").size() == 2);
  // Another tenant's start of the same id is refused the same way.
  auto other = start_request("r1", "globex");
  CHECK(host.kernel->start_run(other).status().code() == StatusCode::kAlreadyExists);
}

TEST_CASE("a run created without its start (an older ledger, a process that died) is started",
          "[kernel][start]") {
  KernelHost host;
  create_run(*host.store, "r1", "acme");  // what start_run committed first before
  host.reopen();
  REQUIRE(host.kernel->start_run(with_source("r1", "return 3")).ok());
  auto events = events_of(*host.store, "r1");
  REQUIRE(events.size() == 2);
  CHECK(events[0].type == "run_started");
  CHECK(events[0].seq == 1);
  auto stored = host.kernel->load_source(Sha256::of(std::string("return 3")).hex());
  REQUIRE(stored.ok());
  CHECK(stored->has_value());
  // Not for another tenant: that run is not theirs to start.
  create_run(*host.store, "r2", "acme");
  CHECK(host.kernel->start_run(start_request("r2", "globex")).status().code() ==
        StatusCode::kAlreadyExists);
}

TEST_CASE("an append that creates a run may not ask what is checked after the creation",
          "[store][start]") {
  KernelHost host;
  auto creating = [](const std::string& run) {
    AppendRequest request;
    request.run_id = RunId(run);
    request.create = RunHeader{RunId(run), TenantId("acme")};
    request.drafts.push_back({"run_started", Json::object()});
    return request;
  };
  AppendRequest with_callback = creating("r1");
  with_callback.in_txn = [](AppendTxn&) { return Status(); };
  CHECK(host.store->append(std::move(with_callback)).status().code() ==
        StatusCode::kInvalidArgument);
  AppendRequest later_head = creating("r1");
  later_head.expected_head_seq = 3;
  CHECK(host.store->append(std::move(later_head)).status().code() == StatusCode::kInvalidArgument);
  AppendRequest other_run = creating("r1");
  other_run.run_id = RunId("r2");
  CHECK(host.store->append(std::move(other_run)).status().code() == StatusCode::kInvalidArgument);
  AppendRequest bad_id = creating("r 1");
  CHECK(host.store->append(std::move(bad_id)).status().code() == StatusCode::kInvalidArgument);
  CHECK(host.store->run_info(RunId("r1")).status().code() == StatusCode::kNotFound);

  AppendRequest fine = creating("r1");
  fine.blobs.push_back("a source");
  auto appended = host.store->append(std::move(fine));
  REQUIRE(appended.ok());
  CHECK(appended->lease_epoch == 1);  // the creator owns the run it created
  auto blob = host.store->get_blob(Sha256::of(std::string("a source")).hex());
  REQUIRE(blob.ok());
  CHECK(blob->has_value());
}
