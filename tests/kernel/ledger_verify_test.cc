// verify and export against real damaged bytes in data.mdb.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "ledger/ledger_env.h"
#include "ledger/ledger_reader.h"
#include "support/run_cli.h"
#include "support/store_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::append_one;
using artana::testing::CliResult;
using artana::testing::CliRun;
using artana::testing::create_run;
using artana::testing::open_store;
using artana::testing::read_file;
using artana::testing::run_cli;
using artana::testing::run_cli_env;
using artana::testing::TempDir;
using artana::testing::write_file;

namespace {

// Writes runs "alpha" (6 events) and "beta" (3 events); each payload carries a unique marker.
void write_ledger(const std::string& dir) {
  auto store = open_store(dir);
  create_run(*store, "alpha");
  create_run(*store, "beta", "other");
  for (int i = 1; i <= 6; ++i) {
    append_one(*store, "alpha", "note",
               Json::object({{"marker", "MARKER-alpha-" + std::to_string(i)}}));
  }
  for (int i = 1; i <= 3; ++i) {
    append_one(*store, "beta", "note",
               Json::object({{"marker", "MARKER-beta-" + std::to_string(i)}}));
  }
}

void flip_byte_of(const std::string& file, const std::string& needle) {
  // Copy-on-write leaves stale copies of a page in free pages: change every copy, so the live
  // one is changed for sure.
  std::string bytes = read_file(file);
  size_t found = 0;
  for (size_t at = bytes.find(needle); at != std::string::npos; at = bytes.find(needle, at + 1)) {
    bytes[at + needle.size() - 1] ^= 0x01;  // '4' -> '5': still valid JSON, different bytes
    ++found;
  }
  REQUIRE(found > 0);
  write_file(file, bytes);
}

}  // namespace

TEST_CASE("a ledger with a flipped byte in a stored event fails verify naming the run and seq",
          "[store][verify]") {
  TempDir dir;
  write_ledger(dir.str());
  {
    auto store = open_store(dir.str());
    auto report = store->verify();
    REQUIRE(report.ok());
    CHECK(report->ok);
    CHECK(report->runs_checked == 2);
    CHECK(report->events_checked == 9);
  }
  flip_byte_of((dir / "data.mdb").string(), "MARKER-alpha-4");
  auto store = open_store(dir.str());
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK_FALSE(report->ok);
  CHECK(report->bad_run_id == "alpha");
  CHECK(report->bad_seq == 4);
  CHECK_THAT(report->problem, Catch::Contains("hash"));
  auto beta = store->verify(RunId("beta"));
  REQUIRE(beta.ok());
  CHECK(beta->ok);
}

TEST_CASE(
    "export stops at the first event that does not hash, exit 10 naming it, after the "
    "lines before it",
    "[store][cli][export]") {
  TempDir dir;
  write_ledger(dir.str());
  flip_byte_of((dir / "data.mdb").string(), "MARKER-alpha-4");
  for (const std::string run : {"alpha", ""}) {
    for (const std::string inline_flag : {"", " --inline"}) {
      CliRun exported =
          run_cli_env({}, "--data " + dir.str() + " ledger export " + run + inline_flag);
      INFO(run << inline_flag << ": " << exported.err);
      CHECK(exported.exit_code == 10);
      CHECK_THAT(exported.err, Catch::Contains("run 'alpha' seq 4") && Catch::Contains("hash"));
      CHECK(std::count(exported.out.begin(), exported.out.end(), '\n') == 3);
      CHECK_THAT(exported.out, Catch::Contains("MARKER-alpha-3"));
      CHECK_THAT(exported.out, !Catch::Contains("MARKER-alpha-5"));
    }
  }
  CliRun beta = run_cli_env({}, "--data " + dir.str() + " ledger export beta");
  CHECK(beta.exit_code == 0);
}

TEST_CASE("a damaged page is reported as corruption and the verifying process lives",
          "[store][verify]") {
  TempDir dir;
  {
    auto store = open_store(dir.str());
    create_run(*store, "big");
    for (int i = 0; i < 400; ++i) {
      append_one(*store, "big", "note", Json::object({{"text", std::string(300, 'x')}, {"i", i}}));
    }
  }
  std::string bytes = read_file((dir / "data.mdb").string());
  REQUIRE(bytes.size() > 40 * 4096);
  // Overwrite pages in the middle of the file (branch and leaf pages of the trees) with garbage.
  for (size_t at = 8 * 4096; at < bytes.size() - 4096; at += 3 * 4096) {
    for (size_t i = 0; i < 4096; ++i) bytes[at + i] = static_cast<char>((i * 131 + at) & 0xff);
  }
  write_file((dir / "data.mdb").string(), bytes);
  auto store = open_lmdb_store(dir.str());
  if (!store.ok()) {
    // Damage LMDB notices at open is reported as an error, never a crash.
    CHECK(store.status().code() != StatusCode::kOk);
    return;
  }
  auto report = (*store)->verify();
  if (report.ok()) {
    CHECK_FALSE(report->ok);
    CHECK_FALSE(report->problem.empty());
  } else {
    CHECK(report.status().code() == StatusCode::kCorruption);
  }
}

TEST_CASE("export lines are canonical events whose hash covers the line without it",
          "[store][export]") {
  TempDir dir;
  write_ledger(dir.str());
  auto store = open_store(dir.str());
  std::vector<std::string> lines;
  REQUIRE(store
              ->export_jsonl({},
                             [&](std::string_view line) {
                               lines.emplace_back(line);
                               return Status();
                             })
              .ok());
  REQUIRE(lines.size() == 9);
  for (const std::string& line : lines) {
    REQUIRE(line.back() == '\n');
    std::string text = line.substr(0, line.size() - 1);
    auto doc = parse_json(text);
    REQUIRE(doc.ok());
    auto again = canonical_json(*doc);
    REQUIRE(again.ok());
    CHECK(*again == text);  // the line is itself canonical
    std::string hash = doc->find("hash")->as_string();
    Json without = Json::object();
    for (const auto& [key, value] : doc->as_object()) {
      if (key != "hash") without.set(key, value);
    }
    auto hashed = canonical_json(without);
    REQUIRE(hashed.ok());
    CHECK(Sha256::of(*hashed).hex() == hash);
  }
  CHECK_THAT(lines[0], Catch::Contains("\"run_id\":\"alpha\""));
  CHECK_THAT(lines[8], Catch::Contains("\"run_id\":\"beta\""));
}

TEST_CASE("artana ledger verify exits 0, 10 naming the bad run and seq, or 8", "[store][cli]") {
  TempDir dir;
  write_ledger(dir.str());
  CliResult good = run_cli("--data " + dir.str() + " ledger verify");
  INFO(good.out);
  CHECK(good.exit_code == 0);
  CHECK_THAT(good.out, Catch::Contains("9 events"));
  CliResult json = run_cli("--data " + dir.str() + " ledger verify alpha --json");
  CHECK(json.exit_code == 0);
  CHECK_THAT(json.out, Catch::Contains("\"ok\":true"));

  CliResult exported = run_cli("--data " + dir.str() + " ledger export beta");
  CHECK(exported.exit_code == 0);
  CHECK(std::count(exported.out.begin(), exported.out.end(), '\n') == 3);

  flip_byte_of((dir / "data.mdb").string(), "MARKER-beta-2");
  CliResult bad = run_cli("--data " + dir.str() + " ledger verify");
  INFO(bad.out);
  CHECK(bad.exit_code == 10);
  CHECK_THAT(bad.out, Catch::Contains("run 'beta' seq 2"));

  CliResult missing = run_cli("--data " + (dir / "nope").string() + " ledger verify");
  CHECK(missing.exit_code == 8);
  CHECK_THAT(missing.out, Catch::Contains((dir / "nope").string()));
  CliResult usage = run_cli("ledger frobnicate");
  CHECK(usage.exit_code == 2);
}

TEST_CASE("a damaged event index is caught by verify and never misreads another run's event",
          "[store][verify]") {
  TempDir dir;
  {
    auto store = open_store(dir.str());
    create_run(*store, "alpha");
    create_run(*store, "beta");
    // Interleaved appends: every append starts a new extent of consecutive log positions.
    for (int i = 1; i <= 4; ++i) {
      append_one(*store, "alpha", "note", Json::object({{"i", i}}));
      append_one(*store, "beta", "note", Json::object({{"i", i}}));
    }
  }
  {
    // Drop beta's extent for seq 2, so seq 2 seems to continue seq 1's extent, where an
    // event of alpha sits.
    auto env = ledger::LedgerEnv::open(dir.str(), LmdbStoreOptions{});
    REQUIRE(env.ok());
    auto txn = (*env)->begin_write();
    REQUIRE(txn.ok());
    std::string key = ledger::run_seq_key(2, 2);  // beta is run #2
    MDB_val k = ledger::to_val(key);
    REQUIRE(mdb_del(txn->get(), (*env)->dbi().run_extents, &k, nullptr) == 0);
    REQUIRE(txn->txn.commit() == 0);
  }
  auto store = open_store(dir.str());
  auto read = store->read(RunId("beta"));
  CHECK(read.status().code() == StatusCode::kCorruption);
  CHECK_THAT(read.status().message(), Catch::Contains("run 'alpha'"));
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK_FALSE(report->ok);
  CHECK(report->bad_run_id == "beta");
  CHECK(report->bad_seq == 2);
}

TEST_CASE(
    "verify reports a step that starts again after it succeeded, or a side effect called "
    "again with no operator's retry",
    "[store][verify]") {
  TempDir dir;
  auto store = open_store(dir.str());
  const std::string hash(64, 'a');
  auto request = [&](const std::string& type, const std::string& key) {
    Json payload = Json::object({{"step_key", key}, {"request_hash", hash}});
    if (type == "tool_requested") payload.set("side_effect", true);
    append_one(*store, "stale", type, std::move(payload));
  };
  create_run(*store, "stale");
  request("model_requested", "plan");
  append_one(*store, "stale", "model_completed",
             Json::object({{"step_key", "plan"}, {"output", "ok"}}));
  auto fine = store->verify();
  REQUIRE(fine.ok());
  CHECK(fine->ok);

  SECTION("a model step requested after it completed") {
    request("model_requested", "plan");
    auto report = store->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK(report->bad_seq == 3);
    CHECK_THAT(report->problem, Catch::Contains("step 'plan' starts again (model_requested) after "
                                                "it succeeded"));
  }
  SECTION("two requests of one side effect in a row") {
    request("tool_requested", "charge");
    request("tool_requested", "charge");
    auto report = store->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK(report->bad_seq == 4);
    CHECK_THAT(report->problem, Catch::Contains("outcome is unknown"));
  }
}
