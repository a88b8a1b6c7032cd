// Pipelined commits (KernelOptions::pipelined_commits): a step returns before its events are
// committed, the run's CommitMark says when they landed, reads of the run see them, and a
// commit that fails halts the run with its error while the ledger keeps what was committed.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>

#include "artana/kernel/kernel.h"
#include "artana/kernel/lmdb_event_store.h"
#include "support/kernel_fixture.h"
#include "support/temp_dir.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

// A store with syncs (effects: commits go to the commit thread) and a pipelined kernel
// whose listener counts what landed.
struct Pipelined {
  TempDir dir;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<Kernel> kernel;
  std::mutex mu;
  std::condition_variable cv;
  int landed = 0;

  Pipelined() {
    LmdbStoreOptions options;
    options.durability = Durability::kEffects;
    store = std::move(open_lmdb_store(dir.path().string(), options).value());
    KernelOptions kernel_options;
    kernel_options.pipelined_commits = true;
    kernel = std::move(Kernel::open(*store, kernel_options).value());
    kernel->set_commit_listener([this] {
      std::lock_guard<std::mutex> lock(mu);
      ++landed;
      cv.notify_all();
    });
  }
  ~Pipelined() { kernel->set_commit_listener({}); }

  // Waits (on the listener, no sleep) until `mark` has nothing pending.
  void wait_landed(const CommitMark& mark) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !mark.pending(); });
  }
};

Result<ValueStep> random_step(Kernel& kernel, const std::string& run, const std::string& key,
                              double value) {
  return kernel.value_step(TenantId("acme"), RunId(run), key, ValueKind::kRandom,
                           [value] { return Result<Json>(Json(value)); });
}

}  // namespace

TEST_CASE("a pipelined step returns at once, its mark lands, and a read of the run sees it",
          "[kernel][pipeline]") {
  Pipelined p;
  REQUIRE(p.kernel->start_run(start_request("r1")).ok());
  auto mark = p.kernel->commit_mark(TenantId("acme"), RunId("r1"));
  REQUIRE(mark.ok());
  for (int i = 1; i <= 20; ++i) {
    auto step = random_step(*p.kernel, "r1", "random:" + std::to_string(i), i / 100.0);
    REQUIRE(step.ok());
    CHECK_FALSE(step->replayed);
  }
  // A read waits for the run's writes in flight: all 20 are there, whatever landed so far.
  const std::vector<Event> events = events_of(*p.store, "r1");
  CHECK(count_type(events, "random_read") == 20);
  p.wait_landed(**mark);
  CHECK_FALSE((*mark)->failed());
  {
    std::lock_guard<std::mutex> lock(p.mu);
    CHECK(p.landed >= 1);
  }
  auto info = p.store->head(RunId("r1"));
  REQUIRE(info.ok());
  CHECK(info->head_seq == events.back().seq);
  // Another kernel replays what was committed: the same values, nothing appended.
  auto replayer = Kernel::open(*p.store).value();
  for (int i = 1; i <= 20; ++i) {
    auto step = random_step(*replayer, "r1", "random:" + std::to_string(i), 0.99);
    REQUIRE(step.ok());
    CHECK(step->replayed);
    CHECK(step->value == Json(i / 100.0));
  }
  CHECK(events_of(*p.store, "r1").size() == events.size());
}

TEST_CASE("a pipelined commit that fails halts the run with its error, the ledger keeps the rest",
          "[kernel][pipeline]") {
  Pipelined p;
  REQUIRE(p.kernel->start_run(start_request("r1")).ok());
  REQUIRE(random_step(*p.kernel, "r1", "random:1", 0.5).ok());
  auto mark = p.kernel->commit_mark(TenantId("acme"), RunId("r1"));
  REQUIRE(mark.ok());
  p.wait_landed(**mark);
  // Another writer moves the run on behind this kernel's back (an operator's event): the
  // next append, decided from the old head, is refused when it commits.
  AppendRequest outside;
  outside.run_id = RunId("r1");
  outside.outside_owner = true;
  outside.drafts = {{"operator_note", Json::object({{"text", "moved"}})}};
  REQUIRE(p.store->append(std::move(outside)).ok());
  const uint64_t committed = p.store->head(RunId("r1"))->head_seq;

  auto step = random_step(*p.kernel, "r1", "random:2", 0.25);
  REQUIRE(step.ok());  // predicted: the failure comes with the commit
  p.wait_landed(**mark);
  REQUIRE((*mark)->failed());
  CHECK((*mark)->failure().code() == StatusCode::kConflict);
  // The run halts with that error, sticky: no later step goes live.
  auto next = random_step(*p.kernel, "r1", "random:3", 0.75);
  REQUIRE_FALSE(next.ok());
  CHECK(next.status().code() == StatusCode::kConflict);
  CHECK(next.status().message().find("a commit of run 'r1' failed") != std::string::npos);
  // The ledger has what was committed, not the failed step.
  CHECK(p.store->head(RunId("r1"))->head_seq == committed);
  CHECK(count_type(events_of(*p.store, "r1"), "random_read") == 1);
}

TEST_CASE("a pipelined kernel waits for its commits when it goes, and writes keep their order",
          "[kernel][pipeline]") {
  TempDir dir;
  LmdbStoreOptions options;
  options.durability = Durability::kFull;
  auto store = open_lmdb_store(dir.path().string(), options).value();
  {
    KernelOptions kernel_options;
    kernel_options.pipelined_commits = true;
    auto kernel = Kernel::open(*store, kernel_options).value();
    for (int r = 0; r < 4; ++r) {
      const std::string run = "r" + std::to_string(r);
      REQUIRE(kernel->start_run(start_request(run)).ok());
      for (int i = 1; i <= 10; ++i)
        REQUIRE(random_step(*kernel, run, "random:" + std::to_string(i), 0.5).ok());
      // Released behind its appends (a lease release never overtakes them).
      REQUIRE(kernel->unload(TenantId("acme"), RunId(run)).ok());
    }
  }  // the kernel goes with writes in flight: it waits for them
  for (int r = 0; r < 4; ++r) {
    auto info = store->head(RunId("r" + std::to_string(r)));
    REQUIRE(info.ok());
    CHECK(count_type(events_of(*store, "r" + std::to_string(r)), "random_read") == 10);
    CHECK(info->lease.owner_id.empty());  // released, after the appends that needed it
  }
  auto verified = store->verify();
  REQUIRE(verified.ok());
  CHECK(verified->ok);
}
