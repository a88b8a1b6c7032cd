#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "artana/kernel/lmdb_event_store.h"
#include "support/store_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::append_one;
using artana::testing::create_run;
using artana::testing::open_store;
using artana::testing::TempDir;

namespace {

// The event as JSON without its hash: what the chain hashes, recomputed independently.
Sha256 recompute_hash(const Event& e) {
  Json doc = Json::object({{"event_id", e.event_id},
                           {"payload", e.payload},
                           {"prev_hash", e.prev_hash.hex()},
                           {"run_id", e.run_id.str()},
                           {"seq", static_cast<int64_t>(e.seq)},
                           {"tenant_id", e.tenant_id.str()},
                           {"timestamp", e.timestamp},
                           {"type", e.type}});
  auto text = canonical_json(doc);
  REQUIRE(text.ok());
  return Sha256::of(*text);
}

}  // namespace

TEST_CASE("appended events read back with dense seqs, linked hashes and their payloads",
          "[store]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "run-1");
  AppendRequest req;
  req.run_id = RunId("run-1");
  req.drafts.push_back(
      {"model_requested", Json::object({{"prompt", "hello"}, {"step_key", "s1"}})});
  req.drafts.push_back({"model_completed", Json::object({{"output", Json::object({{"text", "hi"}})},
                                                         {"step_key", "s1"},
                                                         {"cost_micro_usd", 1500}})});
  auto appended = store->append(std::move(req));
  REQUIRE(appended.ok());
  REQUIRE(appended->events.size() == 2);
  REQUIRE(appended->lease_epoch == 1);

  auto events = store->read(RunId("run-1"));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  const Event& first = (*events)[0];
  const Event& second = (*events)[1];
  CHECK(first.seq == 1);
  CHECK(second.seq == 2);
  CHECK(first.prev_hash == genesis_hash());
  CHECK(second.prev_hash == first.hash);
  CHECK(first.hash == appended->events[0].hash);
  CHECK(first.tenant_id.str() == "acme");
  CHECK(first.event_id.size() == 26);
  CHECK(first.timestamp.size() == 27);
  CHECK(first.timestamp.back() == 'Z');
  CHECK(second.payload == appended->events[1].payload);
  CHECK(second.payload.find("output")->find("text")->as_string() == "hi");
  CHECK(recompute_hash(first) == first.hash);
  CHECK(recompute_hash(second) == second.hash);

  auto head = store->head(RunId("run-1"));
  REQUIRE(head.ok());
  CHECK(head->head_seq == 2);
  CHECK(head->head_hash == second.hash);
  auto from_two = store->read(RunId("run-1"), 2);
  REQUIRE(from_two.ok());
  REQUIRE(from_two->size() == 1);
  CHECK((*from_two)[0].seq == 2);
}

TEST_CASE("the step index, latest-event index and running totals follow the appended events",
          "[store]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "run-a", "acme");
  create_run(*store, "run-b", "acme");
  uint64_t epoch = 0;
  append_one(*store, "run-a", "model_requested", Json::object({{"step_key", "turn_1"}}), &epoch);
  Event done = append_one(*store, "run-a", "model_completed",
                          Json::object({{"step_key", "turn_1"}, {"cost_micro_usd", 2500}}), &epoch);
  append_one(*store, "run-a", "run_summary", Json::object({{"kind", "progress"}, {"value", 1}}),
             &epoch);
  Event latest = append_one(*store, "run-a", "run_summary",
                            Json::object({{"kind", "progress"}, {"value", 2}}), &epoch);
  append_one(*store, "run-b", "model_completed",
             Json::object({{"step_key", "x"}, {"cost_micro_usd", 500}}));

  auto terminal = store->find_terminal(RunId("run-a"), "turn_1");
  REQUIRE(terminal.ok());
  REQUIRE(terminal->has_value());
  CHECK((*terminal)->seq == done.seq);
  auto missing = store->find_terminal(RunId("run-a"), "turn_2");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  auto summary = store->latest_summary(RunId("run-a"), "progress");
  REQUIRE(summary.ok());
  REQUIRE(summary->has_value());
  CHECK((*summary)->seq == latest.seq);
  CHECK((*summary)->payload.find("value")->as_integer() == 2);

  auto run_totals = store->totals(RunId("run-a"));
  REQUIRE(run_totals.ok());
  CHECK(run_totals->spend_micro_usd == 2500);
  CHECK(run_totals->events == 4);
  auto tenant = store->tenant_totals(TenantId("acme"));
  REQUIRE(tenant.ok());
  CHECK(tenant->spend_micro_usd == 3000);
  CHECK(tenant->events == 5);
}

TEST_CASE("list_runs returns a tenant's runs, filtered by the status set with an append",
          "[store]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "r1", "acme");
  create_run(*store, "r2", "acme");
  create_run(*store, "r3", "other");
  AppendRequest req;
  req.run_id = RunId("r2");
  req.drafts.push_back({"run_completed", Json::object({{"output", "done"}})});
  req.new_status = RunStatus::kCompleted;
  REQUIRE(store->append(std::move(req)).ok());

  auto acme = store->list_runs(TenantId("acme"));
  REQUIRE(acme.ok());
  REQUIRE(acme->size() == 2);
  auto completed = store->list_runs(TenantId("acme"), RunStatus::kCompleted);
  REQUIRE(completed.ok());
  REQUIRE(completed->size() == 1);
  CHECK((*completed)[0].header.run_id.str() == "r2");
  auto all = store->list_all_runs();
  REQUIRE(all.ok());
  CHECK(all->size() == 3);
  CHECK((*all)[2].header.run_id.str() == "r3");
}

TEST_CASE("bad appends are refused with errors naming the problem and write nothing", "[store]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "run-1");

  RunHeader dup;
  dup.run_id = RunId("run-1");
  dup.tenant_id = TenantId("acme");
  CHECK(store->create_run(dup).status().code() == StatusCode::kAlreadyExists);
  RunHeader spaced;
  spaced.run_id = RunId("has space");
  spaced.tenant_id = TenantId("acme");
  CHECK(store->create_run(spaced).status().code() == StatusCode::kInvalidArgument);

  auto attempt = [&](std::string type, Json payload) {
    AppendRequest req;
    req.run_id = RunId("run-1");
    req.drafts.push_back({"ok_event", Json::object({{"fine", true}})});
    req.drafts.push_back({std::move(type), std::move(payload)});
    return store->append(std::move(req)).status();
  };
  Status not_object = attempt("note", Json::array({1, 2}));
  CHECK(not_object.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(not_object.message(), Catch::Contains("payload"));
  Status bad_type = attempt("Bad-Type", Json::object());
  CHECK(bad_type.code() == StatusCode::kInvalidArgument);
  Status too_big = attempt(
      "note", Json::object({{"items", Json::array({1, Json::object({{"n", int64_t{1} << 60}})})}}));
  CHECK(too_big.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(too_big.message(), Catch::Contains("payload.items[1].n"));
  Status reserved = attempt("note", Json::object({{"$artana.blob", "x"}}));
  CHECK(reserved.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(reserved.message(), Catch::Contains("reserved"));
  Status nan = attempt("note", Json::object({{"x", std::nan("")}}));
  CHECK(nan.code() == StatusCode::kInvalidArgument);

  AppendRequest unknown;
  unknown.run_id = RunId("no-such-run");
  unknown.drafts.push_back({"note", Json::object()});
  CHECK(store->append(std::move(unknown)).status().code() == StatusCode::kNotFound);

  auto head = store->head(RunId("run-1"));
  REQUIRE(head.ok());
  CHECK(head->head_seq == 0);  // every refused append was all-or-nothing
  auto report = store->verify();
  INFO(report.status().to_string());
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("an append of no events only takes the run's lease at its head", "[store][lease]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "run-1");
  auto empty = [](std::optional<uint64_t> head) {
    AppendRequest request;
    request.run_id = RunId("run-1");
    request.expected_head_seq = head;
    return request;
  };
  auto taken = store->append(empty(0));
  INFO(taken.status().to_string());
  REQUIRE(taken.ok());
  CHECK(taken->events.empty());
  CHECK(taken->lease_epoch == 1);
  auto info = store->run_info(RunId("run-1"));
  REQUIRE(info.ok());
  CHECK(info->head_seq == 0);
  CHECK(info->lease.epoch == 1);
  CHECK_FALSE(info->lease.owner_id.empty());
  // From a stale head: a conflict, as any append.
  AppendRequest moved = empty(0);
  moved.lease_epoch = 1;
  moved.drafts.push_back({"note", Json::object()});
  REQUIRE(store->append(std::move(moved)).ok());
  CHECK(store->append(empty(0)).status().code() == StatusCode::kConflict);
  // Anything more than taking the lease needs events.
  AppendRequest held = empty(1);
  held.lease_epoch = 1;
  AppendRequest no_head = empty(std::nullopt);
  AppendRequest status = empty(1);
  status.new_status = RunStatus::kCompleted;
  AppendRequest outside = empty(1);
  outside.outside_owner = true;
  for (AppendRequest* refused : {&held, &no_head, &status, &outside}) {
    Status result = store->append(std::move(*refused)).status();
    CHECK(result.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(result.message(), Catch::Contains("has no events"));
  }
  auto after = store->run_info(RunId("run-1"));
  REQUIRE(after.ok());
  CHECK(after->head_seq == 1);
  CHECK(after->status == RunStatus::kRunning);
}

TEST_CASE("an in-transaction check can veto an append and write its own index", "[store]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "run-1");
  append_one(*store, "run-1", "model_completed",
             Json::object({{"step_key", "a"}, {"cost_micro_usd", 900}}));
  auto budgeted = [&](int64_t cost) {
    AppendRequest req;
    req.run_id = RunId("run-1");
    req.drafts.push_back(
        {"model_completed", Json::object({{"step_key", "b"}, {"cost_micro_usd", cost}})});
    req.in_txn = [](AppendTxn& txn) -> Status {
      ARTANA_ASSIGN_OR_RETURN(Totals spent, txn.run_totals());
      if (spent.spend_micro_usd >= 1000) return Status::failed_precondition("budget exceeded");
      return txn.put_index("reservations", "b", "held");
    };
    return store->append(std::move(req));
  };
  REQUIRE(budgeted(200).ok());
  auto refused = budgeted(10);
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  auto head = store->head(RunId("run-1"));
  REQUIRE(head.ok());
  CHECK(head->head_seq == 2);
}

TEST_CASE("a fork shares its parent's prefix and its chain verifies through it", "[store]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "parent");
  std::vector<Event> parent_events;
  for (int i = 0; i < 4; ++i) {
    parent_events.push_back(append_one(*store, "parent", "note", Json::object({{"i", i}})));
  }
  RunHeader fork;
  fork.run_id = RunId("parent::fork::abc");
  fork.tenant_id = TenantId("acme");
  fork.forked_from = ForkPoint{RunId("parent"), 2};
  auto created = store->create_run(fork);
  REQUIRE(created.ok());
  CHECK(created->first_seq == 3);
  CHECK(created->head_hash == parent_events[1].hash);
  Event own = append_one(*store, "parent::fork::abc", "run_forked",
                         Json::object({{"forked_from_run_id", "parent"}, {"fork_seq", 2}}));
  CHECK(own.seq == 3);
  CHECK(own.prev_hash == parent_events[1].hash);
  auto events = store->read(RunId("parent::fork::abc"));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[0].hash == parent_events[0].hash);
  CHECK((*events)[2].hash == own.hash);
  auto report = store->verify();
  INFO(report.status().to_string());
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->events_checked == 5);
}

TEST_CASE("append_async reports a durable commit through its callback", "[store]") {
  TempDir dir;
  LmdbStoreOptions options;
  options.durability = Durability::kFull;
  auto store = open_store(dir.str(), options);
  create_run(*store, "run-1");
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 5; ++i) {
    AppendRequest req;
    req.run_id = RunId("run-1");
    req.drafts.push_back({"note", Json::object({{"i", i}})});
    store->append_async(std::move(req), [&](Result<AppendResult> r) {
      std::lock_guard<std::mutex> lock(mu);
      if (r.ok()) seqs.push_back(r->events[0].seq);
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done == 5; });
  REQUIRE(seqs.size() == 5);
  std::sort(seqs.begin(), seqs.end());
  CHECK(seqs == std::vector<uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("opening the same ledger twice in one process is refused", "[store]") {
  TempDir dir;
  auto store = open_store(dir.str());
  auto second = open_lmdb_store(dir.str());
  CHECK(second.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(second.status().message(), Catch::Contains("already open"));
}

TEST_CASE("ledger files are created readable by their owner only", "[store]") {
  TempDir dir;
  auto store = open_store((dir / "ledger").string());
  struct stat st;
  REQUIRE(::stat((dir / "ledger" / "data.mdb").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir / "ledger" / "lock.mdb").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((dir / "ledger").c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);
}
