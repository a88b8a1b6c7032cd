// PayloadPrefetch: a replay's next batch of results is read on another thread and handed
// over whole, exactly once; anything not asked for ahead is left to the caller.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/payload_prefetch.h"
#include "support/store_fixture.h"
#include "support/temp_dir.h"

using namespace artana;
using namespace artana::kernel;
using artana::kernel::ledger::PayloadPrefetch;
using artana::testing::TempDir;

namespace {

// A read that records where it ran and can be held until released.
struct FakeReads {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::thread::id> threads;
  std::vector<std::string> runs;  // in the order read
  bool hold = false;              // reads wait while set
  bool entered = false;           // a held read has begun
  bool fail_next = false;

  PayloadPrefetch::Read read() {
    return [this](const RunId& run, const std::vector<uint64_t>& seqs,
                  size_t) -> PayloadPrefetch::Batch {
      std::unique_lock<std::mutex> lock(mu);
      threads.push_back(std::this_thread::get_id());
      runs.push_back(run.str());
      entered = true;
      changed.notify_all();
      changed.wait(lock, [&] { return !hold; });
      if (fail_next) return Status::corruption("seq {} of '{}' is damaged", seqs[0], run.str());
      std::vector<PayloadText> out;
      for (uint64_t seq : seqs) out.push_back(PayloadText{"e", seq, std::to_string(seq), {}});
      return out;
    };
  }
  void wait_entered() {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return entered; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    hold = false;
    changed.notify_all();
  }
};

}  // namespace

TEST_CASE("a prefetched batch is read on another thread and handed over once", "[prefetch]") {
  FakeReads reads;
  reads.hold = true;
  PayloadPrefetch prefetch(reads.read());
  const RunId run("r");
  prefetch.start(run, {5, 7, 9}, 100);
  reads.wait_entered();  // begun by the thread
  reads.release();
  auto got = prefetch.take(run, {5, 7, 9}, 100);
  REQUIRE(got.has_value());
  REQUIRE(got->ok());
  REQUIRE(got->value().size() == 3);
  CHECK(got->value()[2].seq == 9);
  CHECK(got->value()[2].text == "9");
  {
    std::lock_guard<std::mutex> lock(reads.mu);
    REQUIRE(reads.threads.size() == 1);
    CHECK(reads.threads[0] != std::this_thread::get_id());
  }
  CHECK_FALSE(prefetch.take(run, {5, 7, 9}, 100).has_value());  // handed over once
  CHECK(prefetch.batches_read() == 1);
}

TEST_CASE("a take waits for the read under way and gets its error as is", "[prefetch]") {
  FakeReads reads;
  reads.hold = true;
  reads.fail_next = true;
  PayloadPrefetch prefetch(reads.read());
  const RunId run("r");
  prefetch.start(run, {1, 2}, 100);
  reads.wait_entered();
  std::thread releaser([&] { reads.release(); });
  auto got = prefetch.take(run, {1, 2}, 100);
  releaser.join();
  REQUIRE(got.has_value());
  REQUIRE_FALSE(got->ok());
  CHECK(got->status().code() == StatusCode::kCorruption);
  CHECK(prefetch.batches_read() == 1);
}

TEST_CASE("a batch not asked for ahead, or asked differently, is the caller's to read",
          "[prefetch]") {
  FakeReads reads;
  reads.hold = true;
  PayloadPrefetch prefetch(reads.read());
  const RunId run("r");
  prefetch.start(run, {1, 2}, 100);
  reads.wait_entered();  // the thread is busy with {1, 2}
  prefetch.start(run, {3, 4}, 100);
  // Queued behind the read under way: quicker for the caller to read it itself.
  CHECK_FALSE(prefetch.take(run, {3, 4}, 100).has_value());
  CHECK_FALSE(prefetch.take(run, {1, 2}, 50).has_value());              // another limit
  CHECK_FALSE(prefetch.take(RunId("other"), {1, 2}, 100).has_value());  // another run
  reads.release();
  auto got = prefetch.take(run, {1, 2}, 100);
  REQUIRE(got.has_value());
  CHECK(got->value().size() == 2);
  CHECK(prefetch.batches_read() == 1);  // {3, 4} was taken back before the thread began it
}

TEST_CASE("the batches of many runs are read in turn and wait, each for its own run's take",
          "[prefetch]") {
  FakeReads reads;
  reads.hold = true;
  PayloadPrefetch prefetch(reads.read());
  for (const char* run : {"a", "b", "c"}) prefetch.start(RunId(run), {1, 2}, 100);
  reads.wait_entered();
  reads.release();
  prefetch.wait_idle();
  // Taken in another order than read (a reload's replays need not keep the restarts' order).
  for (const char* run : {"c", "a", "b"}) {
    auto got = prefetch.take(RunId(run), {1, 2}, 100);
    INFO(run);
    REQUIRE(got.has_value());
    CHECK(got->value().size() == 2);
  }
  CHECK(prefetch.batches_read() == 3);
  std::lock_guard<std::mutex> lock(reads.mu);
  CHECK(reads.runs == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE(
    "a run's newer request replaces one not begun, and a batch its replay does not ask for "
    "is dropped",
    "[prefetch]") {
  FakeReads reads;
  reads.hold = true;
  PayloadPrefetch prefetch(reads.read());
  prefetch.start(RunId("x"), {1}, 100);
  reads.wait_entered();  // the thread is busy with x
  prefetch.start(RunId("y"), {1}, 100);
  prefetch.start(RunId("y"), {2}, 100);  // replaces y's first, not begun
  reads.release();
  prefetch.wait_idle();
  CHECK(prefetch.batches_read() == 2);                           // x, and y's second only
  CHECK_FALSE(prefetch.take(RunId("y"), {1}, 100).has_value());  // asked otherwise: dropped
  CHECK_FALSE(prefetch.take(RunId("y"), {2}, 100).has_value());  // gone with it
  auto x = prefetch.take(RunId("x"), {1}, 100);
  REQUIRE(x.has_value());
  CHECK(x->value().at(0).text == "1");
}

TEST_CASE("batches not taken are held up to a count and a size, the oldest dropped first",
          "[prefetch]") {
  FakeReads reads;
  // Each batch of two results holds 4 bytes ("e" + "1", "e" + "2").
  PayloadPrefetch by_count(reads.read(), PayloadPrefetch::Limits{16, 2, 1 << 20});
  for (const char* run : {"a", "b", "c"}) by_count.start(RunId(run), {1, 2}, 100);
  by_count.wait_idle();
  CHECK_FALSE(by_count.take(RunId("a"), {1, 2}, 100).has_value());
  CHECK(by_count.take(RunId("b"), {1, 2}, 100).has_value());
  CHECK(by_count.take(RunId("c"), {1, 2}, 100).has_value());

  PayloadPrefetch by_size(reads.read(), PayloadPrefetch::Limits{16, 16, 9});
  for (const char* run : {"a", "b", "c"}) by_size.start(RunId(run), {1, 2}, 100);
  by_size.wait_idle();
  CHECK_FALSE(by_size.take(RunId("a"), {1, 2}, 100).has_value());  // 12 bytes > 9
  CHECK(by_size.take(RunId("b"), {1, 2}, 100).has_value());
  CHECK(by_size.take(RunId("c"), {1, 2}, 100).has_value());

  // Requests beyond the queue's length are left to the replays.
  FakeReads held;
  held.hold = true;
  PayloadPrefetch by_queue(held.read(), PayloadPrefetch::Limits{1, 16, 1 << 20});
  by_queue.start(RunId("a"), {1}, 100);
  held.wait_entered();  // a is being read: the queue is empty
  by_queue.start(RunId("b"), {1}, 100);
  by_queue.start(RunId("c"), {1}, 100);  // the queue holds one: not queued
  held.release();
  by_queue.wait_idle();
  CHECK(by_queue.batches_read() == 2);
  CHECK(by_queue.take(RunId("b"), {1}, 100).has_value());
  CHECK_FALSE(by_queue.take(RunId("c"), {1}, 100).has_value());
}

TEST_CASE("the store hands a prefetched batch over exactly as it reads one", "[prefetch][store]") {
  TempDir dir;
  auto store = artana::testing::open_store(dir.str());
  artana::testing::create_run(*store, "t");
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 200; ++i) {
    seqs.push_back(artana::testing::append_one(*store, "t", "note",
                                               Json::object({{"i", static_cast<int64_t>(i)}}))
                       .seq);
  }
  auto direct = store->read_payload_texts(RunId("t"), seqs, 4096);
  REQUIRE(direct.ok());
  REQUIRE(direct->size() < seqs.size());  // the byte limit ended it early
  store->prefetch_payload_texts(RunId("t"), seqs, 4096);
  auto prefetched = store->read_payload_texts(RunId("t"), seqs, 4096);
  REQUIRE(prefetched.ok());
  REQUIRE(prefetched->size() == direct->size());
  for (size_t i = 0; i < direct->size(); ++i) {
    CHECK(prefetched->at(i).seq == direct->at(i).seq);
    CHECK(prefetched->at(i).type == direct->at(i).type);
    CHECK(prefetched->at(i).text == direct->at(i).text);
  }
  // A seq past the head is refused the same way, prefetched or not.
  store->prefetch_payload_texts(RunId("t"), {seqs.back() + 1}, 4096);
  auto missing = store->read_payload_texts(RunId("t"), {seqs.back() + 1}, 4096);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
}
