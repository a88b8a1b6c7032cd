// Keyed summaries and run:lookup's index (kernel/src/ledger/summary_index.h): the latest
// summary per key, newest first, in a run's or a tenant's scope; recorded as a value step;
// recomputed by verify; built for an older ledger when a writer opens it.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "artana/kernel/sha256.h"
#include "kernel/raw_ledger.h"
#include "ledger/lmdb_handles.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

void summarise(KernelHost& host, const std::string& run, const std::string& step_key,
               const std::string& key, int64_t value, const std::string& kind = "note") {
  REQUIRE(host.kernel->summary(kAcme, RunId(run), kind, Json(value), step_key, key).ok());
}

// (key, value) of a lookup's result, in its order.
std::vector<std::pair<std::string, int64_t>> keys_values(const Json& found) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const Json& hit : found.as_array()) {
    out.emplace_back(hit.find("key")->as_string(), hit.find("value")->as_integer());
  }
  return out;
}

Json look(KernelHost& host, const std::string& run, const std::string& step_key,
          SummaryScope scope = SummaryScope::kRun, int64_t limit = 20,
          const std::string& kind = "note") {
  auto step = host.kernel->lookup(TenantId(run == "o1" ? "other" : "acme"), RunId(run), step_key,
                                  LookupRequest{kind, scope, limit});
  REQUIRE(step.ok());
  return step->value;
}

}  // namespace

TEST_CASE("run:lookup keeps the latest summary per key, newest first, in its run's scope",
          "[kernel][lookup]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  summarise(host, "r1", "s1", "a", 1);
  summarise(host, "r1", "s2", "b", 2);
  summarise(host, "r1", "s3", "a", 3);  // a again: the older a is gone
  summarise(host, "r1", "s4", "", 4);   // no key: its step key is the key
  summarise(host, "r1", "s5", "c", 5, "other_kind");
  CHECK(keys_values(look(host, "r1", "l1")) ==
        std::vector<std::pair<std::string, int64_t>>{{"s4", 4}, {"a", 3}, {"b", 2}});
  CHECK(keys_values(look(host, "r1", "l2", SummaryScope::kRun, 2)) ==
        std::vector<std::pair<std::string, int64_t>>{{"s4", 4}, {"a", 3}});
  const Json first = look(host, "r1", "l3").as_array().front();
  CHECK(first.find("run_id")->as_string() == "r1");
  CHECK(first.find("seq")->is_integer());

  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

// A fork goes on from its parent's prefix: the summaries recorded there are its own too
// (folded into its scope when the fork is created), the parent's later ones are not.
TEST_CASE("a fork's run scope holds its parent's prefix and its own, not the parent's later",
          "[kernel][lookup][fork]") {
  KernelHost host;
  StartRunRequest start = start_request("r1");
  start.replay = ReplayPolicy::kForkOnDrift;
  REQUIRE(host.kernel->start_run(start).ok());
  ScriptedModel port;
  summarise(host, "r1", "s1", "a", 1);
  summarise(host, "r1", "s2", "b", 2);
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("m1", "plan"), port).ok());
  summarise(host, "r1", "s3", "c", 3);  // after the step that drifts: the parent's only
  host.reopen();

  // The same summaries replay; the model step asks otherwise and the run forks there.
  summarise(host, "r1", "s1", "a", 1);
  summarise(host, "r1", "s2", "b", 2);
  auto drifted = run_model(*host.kernel, "acme", "r1", prompt_request("m1", "another"), port);
  REQUIRE(drifted.ok());
  const std::string fork = drifted->run_id.str();
  REQUIRE(fork != "r1");
  summarise(host, fork, "s4", "d", 4);
  summarise(host, fork, "s5", "a", 5);  // the fork's own a replaces the prefix's
  CHECK(keys_values(look(host, fork, "l1")) ==
        std::vector<std::pair<std::string, int64_t>>{{"a", 5}, {"d", 4}, {"b", 2}});
  // The parent's own scope, as the store keeps it (a lookup in r1 would run in its fork).
  auto parent = host.store->latest_keyed_summaries(RunId("r1"), SummaryScope::kRun, "note", 20);
  REQUIRE(parent.ok());
  std::vector<std::pair<std::string, int64_t>> parent_keys;
  for (const KeyedSummary& hit : *parent) parent_keys.emplace_back(hit.key, hit.value.as_integer());
  CHECK(parent_keys == std::vector<std::pair<std::string, int64_t>>{{"c", 3}, {"b", 2}, {"a", 1}});
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a lookup is a recorded step: a replay returns what it found then", "[kernel][lookup]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  summarise(host, "r1", "s1", "a", 1);
  CHECK(keys_values(look(host, "r1", "look")).size() == 1);
  summarise(host, "r1", "s2", "b", 2);
  host.reopen();  // another process: the run replays from its ledger
  auto replayed = host.kernel->lookup(kAcme, RunId("r1"), "look", LookupRequest{"note"});
  REQUIRE(replayed.ok());
  CHECK(replayed->replayed);
  CHECK(keys_values(replayed->value) == std::vector<std::pair<std::string, int64_t>>{{"a", 1}});
}

TEST_CASE("a tenant's scope spans its runs in commit order and never another tenant's",
          "[kernel][lookup]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel->start_run(start_request("r2")).ok());
  REQUIRE(host.kernel->start_run(start_request("o1", "other")).ok());
  summarise(host, "r1", "s1", "a", 1);
  summarise(host, "r2", "s1", "b", 2);
  summarise(host, "r1", "s2", "b", 3);  // b's latest is now r1's
  REQUIRE(host.kernel->summary(TenantId("other"), RunId("o1"), "note", Json(int64_t{9}), "s1", "z")
              .ok());
  const Json tenant = look(host, "r2", "t1", SummaryScope::kTenant);
  CHECK(keys_values(tenant) == std::vector<std::pair<std::string, int64_t>>{{"b", 3}, {"a", 1}});
  CHECK(tenant.as_array().front().find("run_id")->as_string() == "r1");
  CHECK(keys_values(look(host, "r2", "r1", SummaryScope::kRun)) ==
        std::vector<std::pair<std::string, int64_t>>{{"b", 2}});
  CHECK(keys_values(look(host, "o1", "t1", SummaryScope::kTenant)) ==
        std::vector<std::pair<std::string, int64_t>>{{"z", 9}});
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a lookup's arguments are checked before anything is recorded", "[kernel][lookup]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  for (int64_t limit : {int64_t{0}, int64_t{1001}, int64_t{-5}}) {
    auto step = host.kernel->lookup(kAcme, RunId("r1"), "l", LookupRequest{"note", {}, limit});
    REQUIRE_FALSE(step.ok());
    CHECK(step.status().error_kind() == ErrorKind::kInvalidArgument);
  }
  auto no_kind = host.kernel->lookup(kAcme, RunId("r1"), "l", LookupRequest{""});
  CHECK(no_kind.status().error_kind() == ErrorKind::kInvalidArgument);
  auto long_key = host.kernel->summary(kAcme, RunId("r1"), "note", Json(int64_t{1}), "s",
                                       std::string(401, 'k'));
  CHECK(long_key.error_kind() == ErrorKind::kInvalidArgument);
  CHECK(count_type(events_of(*host.store, "r1"), "lookup_read") == 0);
  CHECK(count_type(events_of(*host.store, "r1"), "run_summary") == 0);
}

TEST_CASE("verify recomputes the summary index and names a damaged one", "[kernel][lookup]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  summarise(host, "r1", "s1", "a", 1);
  summarise(host, "r1", "s2", "b", 2);
  SECTION("an entry lost") {
    edit_raw_ledger(host, [](ledger::LedgerEnv& env, MDB_txn* t) {
      MDB_cursor* cursor = nullptr;
      REQUIRE(mdb_cursor_open(t, env.dbi().summary_order, &cursor) == 0);
      MDB_val k, v;
      REQUIRE(mdb_cursor_get(cursor, &k, &v, MDB_LAST) == 0);
      REQUIRE(mdb_cursor_del(cursor, 0) == 0);
      mdb_cursor_close(cursor);
    });
  }
  SECTION("the whole index lost") {
    edit_raw_ledger(host, [](ledger::LedgerEnv& env, MDB_txn* t) {
      REQUIRE(mdb_drop(t, env.dbi().summary_keys, 0) == 0);
      REQUIRE(mdb_drop(t, env.dbi().summary_order, 0) == 0);
    });
  }
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK_FALSE(report->ok);
  CHECK_THAT(report->problem, Catch::Contains("summary index"));
}

TEST_CASE("a schema 4 ledger gets its summary index built when a writer opens it",
          "[kernel][lookup][migrate]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel->start_run(start_request("r2")).ok());
  summarise(host, "r1", "s1", "a", 1);
  summarise(host, "r2", "s1", "a", 2);
  edit_raw_ledger(host, [](ledger::LedgerEnv& env, MDB_txn* t) {
    REQUIRE(mdb_drop(t, env.dbi().summary_keys, 0) == 0);
    REQUIRE(mdb_drop(t, env.dbi().summary_order, 0) == 0);
    std::string version;
    ledger::put_u64be(version, 4);
    MDB_val vk = ledger::to_val(std::string_view("schema_version")), vv = ledger::to_val(version);
    REQUIRE(mdb_put(t, env.dbi().meta, &vk, &vv, 0) == 0);
  });
  host.kernel.reset();
  host.store.reset();
  host.reopen();  // the writer that opens it migrates it
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(keys_values(look(host, "r1", "t", SummaryScope::kTenant)) ==
        std::vector<std::pair<std::string, int64_t>>{{"a", 2}});
  CHECK(keys_values(look(host, "r1", "r", SummaryScope::kRun)) ==
        std::vector<std::pair<std::string, int64_t>>{{"a", 1}});
}

TEST_CASE(
    "a schema 5 ledger, its indexes keyed by hashes of names, is rekeyed when a writer "
    "opens it",
    "[kernel][lookup][migrate]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  summarise(host, "r1", "s1", "a", 1);
  summarise(host, "r1", "s2", "b", 2);
  summarise(host, "r1", "s3", "a", 3);
  // Schema 5: steps and latest keyed by run number · SHA-256(name), summary_keys by
  // scope · SHA-256(kind) · SHA-256(key). Every entry moved to where version 5 kept it.
  edit_raw_ledger(host, [](ledger::LedgerEnv& env, MDB_txn* t) {
    auto rekey = [&](MDB_dbi dbi, auto&& name_at) {
      std::vector<std::pair<std::string, std::string>> entries;
      ledger::Cursor cursor;
      REQUIRE(ledger::Cursor::open(t, dbi, cursor) == 0);
      MDB_val k, v;
      for (int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
        entries.emplace_back(std::string(ledger::from_val(k)), std::string(ledger::from_val(v)));
      }
      REQUIRE_FALSE(entries.empty());
      REQUIRE(mdb_drop(t, dbi, 0) == 0);
      for (const auto& [key, value] : entries) {
        const size_t at = name_at(key);
        const std::string old_key =
            key.substr(0, at) + std::string(Sha256::of(key.substr(at)).raw());
        MDB_val ok = ledger::to_val(old_key), ov = ledger::to_val(value);
        REQUIRE(mdb_put(t, dbi, &ok, &ov, 0) == 0);
      }
    };
    auto after_run_number = [](const std::string&) { return size_t{8}; };
    rekey(env.dbi().steps, after_run_number);
    rekey(env.dbi().latest, after_run_number);
    // 'r' · run number (9 bytes) or 't' · SHA-256(tenant) (33), then SHA-256(kind).
    rekey(env.dbi().summary_keys,
          [](const std::string& key) { return (key[0] == 'r' ? size_t{9} : size_t{33}) + 32; });
    std::string version;
    ledger::put_u64be(version, 5);
    MDB_val vk = ledger::to_val(std::string_view("schema_version")), vv = ledger::to_val(version);
    REQUIRE(mdb_put(t, env.dbi().meta, &vk, &vv, 0) == 0);
  });
  // edit_raw_ledger reopened it: the writer that opens it migrates it.
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(keys_values(look(host, "r1", "l1")) ==
        std::vector<std::pair<std::string, int64_t>>{{"a", 3}, {"b", 2}});
  // The run loads from its rekeyed step records: a recorded summary replays, appending
  // nothing.
  auto head = host.store->head(RunId("r1"));
  REQUIRE(head.ok());
  auto replayed = host.kernel->summary(kAcme, RunId("r1"), "note", Json(int64_t{1}), "s1", "a");
  REQUIRE(replayed.ok());
  auto after = host.store->head(RunId("r1"));
  REQUIRE(after.ok());
  CHECK(after->head_seq == head->head_seq);
}
