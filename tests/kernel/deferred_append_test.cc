// Held appends (AppendRequest::deferrable): not committed until the store's next write or
// read, or flush(); lost with their process, which is what makes holding them safe only
// for events a re-execution records again; committed in order with what follows.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "artana/kernel/lmdb_event_store.h"
#include "support/child_process.h"
#include "support/store_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::ChildProcess;
using artana::testing::open_store;
using artana::testing::TempDir;

namespace {

ChildProcess writer(const std::string& dir) {
  return ChildProcess({ARTANA_LEDGER_CHILD, dir, "none", "30000"});
}

// Creates run-1 in the writer with two committed events (its lease at epoch 1).
void two_events(ChildProcess& child) {
  child.send("create run-1 acme");
  REQUIRE(child.read_line() == "ok");
  child.send("append run-1 0 2 10");
  REQUIRE(child.read_line().rfind("ok 1 ", 0) == 0);
  REQUIRE(child.read_line().rfind("ok 2 ", 0) == 0);
}

std::vector<std::string> types_of(EventStore& store, const std::string& run) {
  auto events = store.read(RunId(run));
  REQUIRE(events.ok());
  std::vector<std::string> types;
  for (const Event& e : *events) types.push_back(e.type);
  return types;
}

void require_verified(EventStore& store) {
  auto report = store.verify();
  REQUIRE(report.ok());
  INFO(report->problem);
  CHECK(report->ok);
}

// Creates `run` with one committed event, its lease at epoch 1.
void started(EventStore& store, const std::string& run) {
  artana::testing::create_run(store, run);
  artana::testing::append_one(store, run, "note", Json::object());
}

AppendRequest held_summary(const std::string& run, uint64_t epoch, uint64_t head) {
  AppendRequest request;
  request.run_id = RunId(run);
  request.lease_epoch = epoch;
  request.expected_head_seq = head;
  request.deferrable = true;
  request.drafts.push_back(EventDraft{"held", Json::object({{"n", static_cast<int64_t>(head)}})});
  return request;
}

}  // namespace

TEST_CASE("held appends die with their process: none of them reaches the ledger",
          "[store][defer]") {
  TempDir dir;
  {
    ChildProcess child = writer(dir.str());
    two_events(child);
    child.send("defer run-1 1 2 3");
    CHECK(child.read_line() == "ok 3");  // the seqs they will have
    CHECK(child.read_line() == "ok 4");
    CHECK(child.read_line() == "ok 5");
    child.kill_hard();
  }
  auto store = open_store(dir.str());
  CHECK(types_of(*store, "run-1") == std::vector<std::string>{"note", "note"});
  require_verified(*store);
}

TEST_CASE("held appends commit before the run's next write, in order, or at flush",
          "[store][defer]") {
  TempDir dir;
  const bool by_flush = GENERATE(false, true);
  INFO((by_flush ? "flush" : "the next append"));
  {
    ChildProcess child = writer(dir.str());
    two_events(child);
    child.send("defer run-1 1 2 3");
    for (int i = 0; i < 3; ++i) REQUIRE(child.read_line().rfind("ok ", 0) == 0);
    if (by_flush) {
      child.send("flush");
      REQUIRE(child.read_line() == "ok");
    } else {
      child.send("append run-1 1 1 10");  // a write the run makes next: after the held ones
      REQUIRE(child.read_line().rfind("ok 6 ", 0) == 0);
    }
    child.kill_hard();
  }
  auto store = open_store(dir.str());
  std::vector<std::string> expected = {"note", "note", "held", "held", "held"};
  if (!by_flush) expected.push_back("note");
  CHECK(types_of(*store, "run-1") == expected);
  auto events = store->read(RunId("run-1"));
  REQUIRE(events.ok());
  CHECK((*events)[3].payload.find("n")->as_integer() == 4);  // in the order they were held
  require_verified(*store);
}

TEST_CASE("a read in the holding process sees the held appends: it commits them first",
          "[store][defer]") {
  TempDir dir;
  auto store = open_store(dir.str());
  started(*store, "run-1");
  auto held = store->append(held_summary("run-1", 1, 1));
  REQUIRE(held.ok());
  CHECK(held->events.at(0).seq == 2);
  CHECK(held->lease_epoch == 1);
  auto head = store->head(RunId("run-1"));
  REQUIRE(head.ok());
  CHECK(head->head_seq == 2);
  CHECK(types_of(*store, "run-1") == std::vector<std::string>{"note", "held"});
  require_verified(*store);
}

TEST_CASE("a held append that fails at its commit is reported by its run's next append",
          "[store][defer]") {
  TempDir dir;
  auto store = open_store(dir.str());
  started(*store, "run-1");
  // Held with an epoch this process does not hold: accepted now, fenced at the commit.
  REQUIRE(store->append(held_summary("run-1", 7, 1)).ok());
  AppendRequest next;
  next.run_id = RunId("run-1");
  next.lease_epoch = 1;
  next.expected_head_seq = 2;  // after the held one, as its caller believes
  next.drafts.push_back(EventDraft{"note", Json::object()});
  auto refused = store->append(std::move(next));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFenced);  // the cause, not "moved on"
  CHECK(types_of(*store, "run-1") == std::vector<std::string>{"note"});
}

TEST_CASE("held appends of several runs commit each run's in order, consecutive ones as one",
          "[store][defer]") {
  TempDir dir;
  auto store = open_store(dir.str());
  for (const char* run : {"run-1", "run-2"}) started(*store, run);
  // run-1, run-2, then run-1 twice: the last two are merged into one op at the commit.
  REQUIRE(store->append(held_summary("run-1", 1, 1)).ok());
  REQUIRE(store->append(held_summary("run-2", 1, 1)).ok());
  REQUIRE(store->append(held_summary("run-1", 1, 2)).ok());
  REQUIRE(store->append(held_summary("run-1", 1, 3)).ok());
  store->flush();
  CHECK(types_of(*store, "run-1") == std::vector<std::string>{"note", "held", "held", "held"});
  CHECK(types_of(*store, "run-2") == std::vector<std::string>{"note", "held"});
  auto events = store->read(RunId("run-1"));
  REQUIRE(events.ok());
  for (size_t i = 1; i < events->size(); ++i) {
    CHECK((*events)[i].payload.find("n")->as_integer() == static_cast<int64_t>(i));
  }
  auto totals = store->totals(RunId("run-1"));
  REQUIRE(totals.ok());
  CHECK(totals->events == 4);
  require_verified(*store);
}
