// Crash, lease, disk-full and permission tests: a real child process (ledger_child) writes,
// is SIGKILLed or limited, and this process reopens and checks the ledger.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "artana/kernel/lmdb_event_store.h"
#include "support/child_process.h"
#include "support/store_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::ChildProcess;
using artana::testing::open_store;
using artana::testing::TempDir;

namespace {

struct Reported {
  uint64_t seq;
  std::string hash;
  uint64_t epoch;
};

// Parses "ok SEQ HASH EPOCH"; false for anything else.
bool parse_ok(const std::string& line, Reported& out) {
  std::istringstream in(line);
  std::string word;
  in >> word;
  if (word != "ok") return false;
  return static_cast<bool>(in >> out.seq >> out.hash >> out.epoch);
}

ChildProcess start_child(const std::string& dir, const std::string& durability,
                         const std::string& ttl_ms = "30000", int uid = -1) {
  return ChildProcess({ARTANA_LEDGER_CHILD, dir, durability, ttl_ms}, uid);
}

// Every reported event is in the ledger with the reported hash, and the ledger verifies.
void require_intact(EventStore& store, const std::string& run,
                    const std::vector<Reported>& reported) {
  auto report = store.verify();
  INFO(report.status().to_string());
  REQUIRE(report.ok());
  INFO(report->problem);
  REQUIRE(report->ok);
  auto events = store.read(RunId(run));
  REQUIRE(events.ok());
  REQUIRE(events->size() >= reported.size());
  for (const Reported& r : reported) {
    const Event& e = (*events)[r.seq - 1];
    CHECK(e.seq == r.seq);
    CHECK(e.hash.hex() == r.hash);
  }
}

}  // namespace

TEST_CASE("a writer SIGKILLed mid-append leaves a verifying ledger holding every reported event",
          "[store][crash]") {
  const std::string durability = GENERATE("full", "effects", "none");
  INFO("durability " << durability);
  TempDir dir;
  std::vector<Reported> reported;
  {
    ChildProcess child = start_child(dir.str(), durability);
    child.send("create run-1 acme");
    REQUIRE(child.read_line() == "ok");
    child.send("append run-1 0 1000000 300");
    // Kill while it is busy appending: somewhere inside or between transactions.
    while (reported.size() < 40) {
      Reported r;
      std::string line = child.read_line();
      INFO(line);
      REQUIRE(parse_ok(line, r));
      reported.push_back(r);
    }
    child.kill_hard();
  }
  auto store = open_store(dir.str());
  require_intact(*store, "run-1", reported);
  // The dead writer's lease is taken over and the run goes on at the next seq.
  auto head = store->head(RunId("run-1"));
  REQUIRE(head.ok());
  Event next = artana::testing::append_one(*store, "run-1", "note", Json::object());
  CHECK(next.seq == head->head_seq + 1);
  auto after = store->head(RunId("run-1"));
  REQUIRE(after.ok());
  CHECK(after->lease.epoch == reported.back().epoch + 1);
}

TEST_CASE("a run owned by a live process is refused, and taken over once that process dies",
          "[store][lease]") {
  TempDir dir;
  ChildProcess child = start_child(dir.str(), "none");
  child.send("create run-1 acme");
  REQUIRE(child.read_line() == "ok");
  child.send("append run-1 0 3 10");
  Reported r;
  for (int i = 0; i < 3; ++i) REQUIRE(parse_ok(child.read_line(), r));
  REQUIRE(r.epoch == 1);

  auto store = open_store(dir.str());
  AppendRequest req;
  req.run_id = RunId("run-1");
  req.drafts.push_back({"note", Json::object()});
  auto refused = store->append(req);
  REQUIRE(refused.status().code() == StatusCode::kLeaseHeld);
  CHECK_THAT(refused.status().message(), Catch::Contains("pid " + std::to_string(child.pid())));

  child.kill_hard();
  auto taken = store->append(req);
  INFO(taken.status().to_string());
  REQUIRE(taken.ok());
  CHECK(taken->lease_epoch == 2);
  CHECK(taken->events[0].seq == 4);
}

TEST_CASE("after an expired lease is taken over, the old owner's appends are fenced",
          "[store][lease]") {
  TempDir dir;
  ChildProcess child = start_child(dir.str(), "none");
  child.send("create run-1 acme");
  REQUIRE(child.read_line() == "ok");
  child.send("append run-1 0 1 10");
  Reported r;
  REQUIRE(parse_ok(child.read_line(), r));

  // This process sees the child's lease as expired: its clock runs an hour ahead.
  LmdbStoreOptions ahead;
  ahead.clock_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(1))
        .count();
  };
  auto store = open_store(dir.str(), ahead);
  AppendRequest req;
  req.run_id = RunId("run-1");
  req.drafts.push_back({"note", Json::object()});
  auto taken = store->append(req);
  INFO(taken.status().to_string());
  REQUIRE(taken.ok());
  CHECK(taken->lease_epoch == 2);

  child.send("append run-1 " + std::to_string(r.epoch) + " 1 10");
  std::string line = child.read_line();
  CHECK_THAT(line, Catch::StartsWith("err fenced"));
  CHECK_THAT(line, Catch::Contains("epoch 1 is stale"));
  child.send("quit");
  child.wait();
  auto head = store->head(RunId("run-1"));
  REQUIRE(head.ok());
  CHECK(head->head_seq == 2);  // the fenced append wrote nothing
}

TEST_CASE("a full disk fails the append with an error naming the file and loses nothing",
          "[store][crash]") {
  TempDir dir;
  {
    auto store = open_store(dir.str());
    artana::testing::create_run(*store, "run-1");
  }
  const auto size = std::filesystem::file_size(dir / "data.mdb");
  std::vector<Reported> reported;
  std::string failure;
  {
    ChildProcess child = start_child(dir.str(), "effects");
    child.send("rlimit " + std::to_string(size + 256 * 1024));
    REQUIRE(child.read_line() == "ok");
    child.send("fill run-1 2000");
    for (;;) {
      std::string line = child.read_line();
      Reported r;
      if (parse_ok(line, r)) {
        reported.push_back(r);
        continue;
      }
      failure = line;
      break;
    }
    child.send("quit");
    child.wait();
  }
  CHECK_THAT(failure, Catch::StartsWith("err disk_full"));
  CHECK_THAT(failure, Catch::Contains((dir / "data.mdb").string()));
  REQUIRE(reported.size() > 10);
  auto store = open_store(dir.str());
  require_intact(*store, "run-1", reported);
}

TEST_CASE("a full disk in none mode (a writable map) refuses the commit instead of crashing",
          "[store][crash]") {
  TempDir dir;
  const std::string ledger = (dir / "ledger").string();
  std::vector<Reported> reported;
  std::string failure;
  ChildProcess child = start_child(ledger, "none");
  // A 3 MiB disk of the child's own, as any user (ledger_child's smalldisk).
  child.send("smalldisk 3m");
  const std::string mounted = child.read_line();
  INFO(mounted);
  REQUIRE(mounted == "ok");
  child.send("create run-1 acme");
  REQUIRE(child.read_line() == "ok");
  // Under 1 KiB, so every event is stored inline and the disk really fills.
  child.send("fill run-1 900");
  for (;;) {
    std::string line = child.read_line();
    Reported r;
    if (!parse_ok(line, r)) {
      failure = line;
      break;
    }
    reported.push_back(r);
  }
  // Still alive (no SIGBUS), and still refusing cleanly.
  child.send("append run-1 0 1 900");
  CHECK_THAT(child.read_line(), Catch::StartsWith("err disk_full"));
  CHECK_THAT(failure, Catch::StartsWith("err disk_full"));
  CHECK_THAT(failure, Catch::Contains(ledger + "/data.mdb"));
  REQUIRE(reported.size() > 100);
  // The disk exists only in the child's namespace: it reopens the ledger and reports.
  child.send("check run-1");
  std::vector<Reported> stored;
  std::string verdict;
  for (;;) {
    std::istringstream line(child.read_line());
    std::string word;
    Reported r;
    if (line >> word && word == "event" && line >> r.seq >> r.hash) {
      stored.push_back(r);
      continue;
    }
    verdict = line.str();
    break;
  }
  CHECK(verdict == "verified");
  REQUIRE(stored.size() >= reported.size());
  for (const Reported& r : reported) {
    CHECK(stored[r.seq - 1].seq == r.seq);
    CHECK(stored[r.seq - 1].hash == r.hash);
  }
  child.send("quit");
  CHECK(child.wait() == 0);
}

TEST_CASE("a ledger in a directory this user cannot write is refused naming the path", "[store]") {
  TempDir dir;
  const std::string ledger = (dir / "ledger").string();
  {
    auto store = open_store(ledger);
    artana::testing::create_run(*store, "run-1");
    artana::testing::append_one(*store, "run-1", "note", Json::object({{"kept", true}}));
  }
  if (::geteuid() == 0) {
    // Root ignores modes: drop to nobody in a child, with the directory world-readable.
    ::chmod(dir.str().c_str(), 0755);
    ::chmod(ledger.c_str(), 0755);
    ::chmod((ledger + "/data.mdb").c_str(), 0644);
    ::chmod((ledger + "/lock.mdb").c_str(), 0644);
    ChildProcess child = start_child(ledger, "effects", "30000", 65534);
    child.send("open");
    std::string line = child.read_line();
    CHECK_THAT(line, Catch::StartsWith("err permission_denied"));
    CHECK_THAT(line, Catch::Contains(ledger));
    child.send("quit");
    child.wait();
  } else {
    ::chmod(ledger.c_str(), 0500);
    auto refused = open_lmdb_store(ledger);
    CHECK(refused.status().code() == StatusCode::kPermissionDenied);
    CHECK_THAT(refused.status().message(), Catch::Contains(ledger));
    ::chmod(ledger.c_str(), 0700);
  }
  auto store = open_store(ledger);
  auto events = store->read(RunId("run-1"));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK(events->at(0).payload.find("kept")->as_bool());
}

// The child's data file as the parent sees it (its small disk is the child's own mount).
std::string seen_from_parent(const ChildProcess& child, const std::string& path) {
  return "/proc/" + std::to_string(child.pid()) + "/root" + path;
}

uint64_t free_bytes(const std::string& dir) {
  struct statvfs fs;
  REQUIRE(::statvfs(dir.c_str(), &fs) == 0);
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

TEST_CASE(
    "a none-mode ledger with a 1 GiB map works on a 3 MiB disk, and a refused create "
    "leaves room and no ledger",
    "[store][crash]") {
  TempDir dir;
  const std::string ledger = (dir / "ledger").string();
  {
    ChildProcess child = start_child(ledger, "none");
    child.send("smalldisk 3m");
    const std::string mounted = child.read_line();
    INFO(mounted);
    REQUIRE(mounted == "ok");
    child.send("mapbytes 1073741824");  // what the CLI and the Host open with
    REQUIRE(child.read_line() == "ok");
    child.send("create run-1 acme");
    REQUIRE(child.read_line() == "ok");  // once refused: 4 MiB were reserved ahead
    child.send("append run-1 0 20 900");
    for (int i = 0; i < 20; ++i) CHECK_THAT(child.read_line(), Catch::StartsWith("ok "));
    // The file is no bigger than the disk (it was a 1 GiB sparse file).
    CHECK(std::filesystem::file_size(seen_from_parent(child, ledger + "/data.mdb")) <= 3u << 20);
    child.send("quit");
    CHECK(child.wait() == 0);
  }
  ChildProcess child = start_child(ledger, "none");
  child.send("smalldisk 3m");
  REQUIRE(child.read_line() == "ok");
  child.send("mapbytes 1073741824");
  REQUIRE(child.read_line() == "ok");
  // Leave about 100 KiB free: too little for a new ledger's first commit.
  const std::string disk = seen_from_parent(child, ledger);
  const std::string filler = disk + "/filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(4096, 'f');
    while (free_bytes(disk) > 100 * 1024) out.write(block.data(), block.size()), out.flush();
  }
  const uint64_t before = free_bytes(disk);
  child.send("open");
  const std::string refused = child.read_line();
  INFO(refused);
  CHECK_THAT(refused, Catch::StartsWith("err disk_full"));
  CHECK_THAT(refused, Catch::Contains("nothing was written"));
  // What the refused create allocated was given back: the disk is not left full.
  CHECK(free_bytes(disk) + 64 * 1024 >= before);
  // Space freed, the same directory becomes a ledger.
  std::filesystem::remove(filler);
  child.send("create run-1 acme");
  CHECK(child.read_line() == "ok");
  child.send("check run-1");
  CHECK(child.read_line() == "verified");
  child.send("quit");
  CHECK(child.wait() == 0);
}
