// The ledger under load: many threads and runs, map growth, growing message histories.
#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include "artana/kernel/json_parse.h"
#include "support/store_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::create_run;
using artana::testing::open_store;
using artana::testing::TempDir;

TEST_CASE("8 threads appending to 16 shared runs keep every chain valid and every seq dense",
          "[store][concurrency]") {
  TempDir dir;
  LmdbStoreOptions options;
  options.durability = Durability::kNone;
  auto store = open_store(dir.str(), options);
  constexpr int kRuns = 16, kThreads = 8, kStepsPerThread = 160;
  for (int r = 0; r < kRuns; ++r) create_run(*store, "run-" + std::to_string(r));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kStepsPerThread; ++i) {
        AppendRequest req;
        req.run_id = RunId("run-" + std::to_string((t + i) % kRuns));
        req.drafts.push_back({"model_requested", Json::object({{"t", t}, {"i", i}})});
        req.drafts.push_back({"model_completed", Json::object({{"t", t}, {"i", i}})});
        if (!store->append(std::move(req)).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failures == 0);
  uint64_t total = 0;
  for (int r = 0; r < kRuns; ++r) {
    auto events = store->read(RunId("run-" + std::to_string(r)));
    REQUIRE(events.ok());
    for (size_t i = 0; i < events->size(); ++i) {
      REQUIRE((*events)[i].seq == i + 1);
      if (i > 0) REQUIRE((*events)[i].prev_hash == (*events)[i - 1].hash);
      // A step's two events stay adjacent: appends are all-or-nothing and never interleave.
      if (i % 2 == 1) REQUIRE((*events)[i].payload == (*events)[i - 1].payload);
    }
    total += events->size();
  }
  CHECK(total == uint64_t{kThreads} * kStepsPerThread * 2);
  // Export pages through several read transactions (1000 events each) and still gives every
  // event once, in run order then seq order.
  uint64_t lines = 0, last_run = 0, last_seq = 0;
  Status exported = store->export_jsonl({}, [&](std::string_view line) -> Status {
    auto doc = parse_json(line);
    REQUIRE(doc.ok());
    uint64_t run = std::stoull(doc->find("run_id")->as_string().substr(4)) + 1;
    uint64_t seq = static_cast<uint64_t>(doc->find("seq")->as_integer());
    CHECK((run > last_run ? seq == 1 : (run == last_run && seq == last_seq + 1)));
    last_run = run;
    last_seq = seq;
    ++lines;
    return Status();
  });
  REQUIRE(exported.ok());
  CHECK(lines == total);
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->events_checked == total);
}

TEST_CASE("a map that fills up grows under load without losing an event", "[store][growth]") {
  TempDir dir;
  LmdbStoreOptions options;
  options.durability = Durability::kNone;
  options.initial_map_bytes = 128 * 1024;
  auto store = open_store(dir.str(), options);
  for (int r = 0; r < 4; ++r) create_run(*store, "g-" + std::to_string(r));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        AppendRequest req;
        req.run_id = RunId("g-" + std::to_string(t));
        // Distinct text per event: large values are content-addressed, so repeats would dedupe.
        req.drafts.push_back(
            {"note", Json::object({{"text", std::string(900, static_cast<char>('a' + i % 26)) +
                                                std::to_string(t * 1000 + i)}})});
        if (!store->append(std::move(req)).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  auto stats = store->storage_stats();
  REQUIRE(stats.ok());
  CHECK(stats->map_bytes > 128 * 1024 * 4);
  CHECK(stats->used_bytes > 128 * 1024 * 4);
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  CHECK(report->events_checked == 600);
}

TEST_CASE("a message history growing every step grows the ledger linearly, not quadratically",
          "[store][large]") {
  TempDir dir;
  LmdbStoreOptions options;
  options.durability = Durability::kNone;
  auto store = open_store(dir.str(), options);
  create_run(*store, "agent");
  Json history = Json::array();
  std::vector<uintmax_t> sizes;
  for (int step = 1; step <= 300; ++step) {
    history.push_back(Json::object(
        {{"role", step % 2 ? "user" : "assistant"},
         {"content", "message " + std::to_string(step) + ": " + std::string(250, 'm')}}));
    AppendRequest req;
    req.run_id = RunId("agent");
    req.drafts.push_back(
        {"model_requested",
         Json::object({{"step_key", "turn_" + std::to_string(step)}, {"messages", history}})});
    auto done = store->append(std::move(req));
    REQUIRE(done.ok());
    if (step % 100 == 0) {
      REQUIRE(store->sync().ok());
      auto stats = store->storage_stats();
      REQUIRE(stats.ok());
      sizes.push_back(stats->used_bytes);
    }
  }
  // History bytes by step 300: ~80 KiB; copying it every step would write ~12 MiB in total,
  // and the third hundred steps would cost ~5x the first. Linear storage keeps them close.
  const double first = static_cast<double>(sizes[0]);
  const double third = static_cast<double>(sizes[2] - sizes[1]);
  INFO("first 100 steps: " << sizes[0] << " bytes; steps 201-300: " << third << " bytes");
  CHECK(third < 1.6 * first);
  CHECK(sizes[2] < 4u * 1024 * 1024);

  // The stored references read back as the full history.
  auto last = store->read(RunId("agent"), 300);
  INFO(last.status().to_string());
  REQUIRE(last.ok());
  REQUIRE(last->size() == 1);
  CHECK(*last->at(0).payload.find("messages") == history);
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("large values are stored once and export can inline them", "[store][large]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "r");
  const std::string big(5000, 'z');
  artana::testing::append_one(*store, "r", "note", Json::object({{"doc", big}}));
  artana::testing::append_one(*store, "r", "note", Json::object({{"doc", big}, {"again", true}}));
  std::vector<std::string> stored, inlined;
  auto collect = [](std::vector<std::string>& into) {
    return [&into](std::string_view line) {
      into.emplace_back(line);
      return Status();
    };
  };
  REQUIRE(store->export_jsonl(RunId("r"), collect(stored)).ok());
  ExportOptions inline_values;
  inline_values.inline_large_values = true;
  REQUIRE(store->export_jsonl(RunId("r"), collect(inlined), inline_values).ok());
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].find(big) == std::string::npos);
  CHECK_THAT(stored[0], Catch::Contains("$artana.blob"));
  CHECK(inlined[1].find(big) != std::string::npos);
  // Every event references the same blob: 60 more copies would add 300 KB.
  for (int i = 0; i < 60; ++i) {
    artana::testing::append_one(*store, "r", "note", Json::object({{"doc", big}, {"i", i}}));
  }
  auto stats = store->storage_stats();
  REQUIRE(stats.ok());
  CHECK(stats->used_bytes < 200 * 1024);
  auto events = store->read(RunId("r"));
  REQUIRE(events.ok());
  CHECK(events->at(1).payload.find("doc")->as_string() == big);
}

TEST_CASE("payloads of every shape read back exactly when large values are split out",
          "[store][large]") {
  TempDir dir;
  LmdbStoreOptions options;
  options.durability = Durability::kNone;
  options.large_value_bytes = 128;  // the smallest threshold: nearly everything is split
  auto store = open_store(dir.str(), options);
  create_run(*store, "shapes");
  std::vector<Json> payloads;
  for (size_t n : {0, 1, 15, 16, 17, 31, 32, 33, 255, 256, 257, 300, 4097}) {
    Json items = Json::array();
    for (size_t i = 0; i < n; ++i) {
      if (i % 3 == 0) {
        items.push_back(
            Json::object({{"i", static_cast<int64_t>(i)}, {"s", std::string(i % 40, 'q')}}));
      } else if (i % 3 == 1) {
        items.push_back(Json::array({static_cast<int64_t>(i), 0.5, "x", nullptr, true}));
      } else {
        items.push_back(std::string(i % 200, 'w') + "\xc3\xa9");
      }
    }
    payloads.push_back(Json::object({{"items", items},
                                     {"nested", Json::object({{"inner", items}, {"n", 1}})},
                                     {"long", std::string(n * 7, 'L')}}));
  }
  for (const Json& p : payloads) artana::testing::append_one(*store, "shapes", "note", p);
  auto events = store->read(RunId("shapes"));
  REQUIRE(events.ok());
  REQUIRE(events->size() == payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    INFO("payload " << i);
    CHECK(events->at(i).payload == payloads[i]);
  }
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

// What a replay reads: each payload's canonical text, unparsed, or (holding a reference to a
// large value) the expanded payload; the same hash check and the same early end as
// read_payloads.
TEST_CASE("payload texts read back as written, large values expanded", "[store][large]") {
  TempDir dir;
  auto store = open_store(dir.str());
  create_run(*store, "t");
  const std::string big(5000, 'z');
  const uint64_t first = artana::testing::append_one(*store, "t", "note",
                                                     Json::object({{"b", 1}, {"a", "caf\xc3\xa9"}}))
                             .seq;
  artana::testing::append_one(*store, "t", "note", Json::object({{"doc", big}}));
  artana::testing::append_one(*store, "t", "note", Json::object({{"n", Json::array()}}));
  auto texts = store->read_payload_texts(RunId("t"), {first, first + 1, first + 2});
  REQUIRE(texts.ok());
  REQUIRE(texts->size() == 3);
  CHECK(texts->at(0).seq == first);
  CHECK(texts->at(0).type == "note");
  CHECK(texts->at(0).text == "{\"a\":\"caf\xc3\xa9\",\"b\":1}");  // canonical: keys sorted
  CHECK(texts->at(0).payload.is_null());
  CHECK(texts->at(1).text.empty());  // a reference: expanded instead
  CHECK(texts->at(1).payload.find("doc")->as_string() == big);
  CHECK(texts->at(2).text == "{\"n\":[]}");
  // The same values read_payloads parses.
  auto events = store->read_payloads(RunId("t"), {first, first + 2});
  REQUIRE(events.ok());
  CHECK(*artana::kernel::parse_json(texts->at(0).text, "p") == events->at(0).payload);
  CHECK(*artana::kernel::parse_json(texts->at(2).text, "p") == events->at(1).payload);
  auto missing = store->read_payload_texts(RunId("t"), {first + 9});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
}
