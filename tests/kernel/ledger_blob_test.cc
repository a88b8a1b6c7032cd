// Content-addressed blobs (EventStore::put_blob / get_blob, Kernel::store_source /
// load_source) on real LMDB stores, with real damaged bytes and a real full disk.
#include <catch2/catch.hpp>

#include <atomic>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "artana/kernel/sha256.h"
#include "ledger/payload_codec.h"
#include "support/child_process.h"
#include "support/kernel_fixture.h"
#include "support/store_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::append_one;
using artana::testing::create_run;
using artana::testing::KernelHost;
using artana::testing::open_store;
using artana::testing::read_file;
using artana::testing::TempDir;
using artana::testing::write_file;

namespace {

// A script-like source with a unique marker, `bytes` long.
std::string source_of(const std::string& marker, size_t bytes) {
  std::string text = "-- " + marker + "\n";
  while (text.size() < bytes) text += "local x = run:model('step', {prompt = 'hi'})\n";
  text.resize(bytes);
  return text;
}

uint64_t used_bytes(EventStore& store) {
  auto stats = store.storage_stats();
  REQUIRE(stats.ok());
  return stats->used_bytes;
}

// Flips the last byte of every copy of `needle` in `file` (copy-on-write may leave stale
// copies in free pages: change them all so the live one surely changes).
void flip_byte_of(const std::string& file, const std::string& needle) {
  std::string bytes = read_file(file);
  size_t found = 0;
  for (size_t at = bytes.find(needle); at != std::string::npos; at = bytes.find(needle, at + 1)) {
    bytes[at + needle.size() - 1] ^= 0x01;
    ++found;
  }
  REQUIRE(found > 0);
  write_file(file, bytes);
}

}  // namespace

TEST_CASE("a stored blob reads back byte for byte under its lowercase hex SHA-256",
          "[store][blob]") {
  for (Durability mode : {Durability::kFull, Durability::kEffects, Durability::kNone}) {
    INFO(durability_name(mode));
    TempDir dir;
    LmdbStoreOptions options;
    options.durability = mode;
    auto store = open_store(dir.str(), options);
    // Small, empty, binary (NULs, high bytes) and larger than many LMDB pages.
    std::string binary("\0\x01\xff\xfe script \0 end", 18);
    for (const std::string& bytes :
         {std::string("print('hello')"), std::string(), binary, source_of("BIG", 3 << 20)}) {
      auto hash = store->put_blob(bytes);
      INFO(hash.status().to_string());
      REQUIRE(hash.ok());
      CHECK(*hash == Sha256::of(bytes).hex());
      auto back = store->get_blob(*hash);
      INFO(back.status().to_string());
      REQUIRE(back.ok());
      REQUIRE(back->has_value());
      CHECK(**back == bytes);
    }
  }
}

TEST_CASE("a blob larger than the whole map grows the map and is kept", "[store][blob]") {
  TempDir dir;
  LmdbStoreOptions options;
  options.initial_map_bytes = 1 << 20;
  auto store = open_store(dir.str(), options);
  const std::string source = source_of("GROW", 6 << 20);
  auto hash = store->put_blob(source);
  INFO(hash.status().to_string());
  REQUIRE(hash.ok());
  auto stats = store->storage_stats();
  REQUIRE(stats.ok());
  CHECK(stats->map_bytes > (6u << 20));
  auto back = store->get_blob(*hash);
  REQUIRE(back.ok());
  CHECK(back->value_or("") == source);
}

TEST_CASE("putting the same blob twice returns the same hash and does not grow the ledger",
          "[store][blob]") {
  TempDir dir;
  auto store = open_store(dir.str());
  const std::string source = source_of("TWICE", 1 << 20);
  const uint64_t before = used_bytes(*store);
  auto first = store->put_blob(source);
  REQUIRE(first.ok());
  const uint64_t after_first = used_bytes(*store);
  CHECK(after_first >= before + (1 << 20));
  auto second = store->put_blob(source);
  REQUIRE(second.ok());
  CHECK(*second == *first);
  CHECK(used_bytes(*store) == after_first);
  // From other threads at once: one copy, one hash.
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  const std::string other = source_of("RACE", 200 * 1024);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto hash = store->put_blob(other);
      if (!hash.ok() || *hash != Sha256::of(other).hex()) ++mismatches;
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(mismatches == 0);
  const uint64_t after_race = used_bytes(*store);
  REQUIRE(store->put_blob(other).ok());
  CHECK(used_bytes(*store) == after_race);
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a blob survives closing and reopening the ledger", "[store][blob]") {
  TempDir dir;
  const std::string source = source_of("REOPEN", 5000);
  std::string hash;
  {
    auto store = open_store(dir.str());
    auto put = store->put_blob(source);
    REQUIRE(put.ok());
    hash = *put;
  }
  auto store = open_store(dir.str());
  auto back = store->get_blob(hash);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK(**back == source);
  LmdbStoreOptions read_only;
  read_only.read_only = true;
  store.reset();
  auto reader = open_store(dir.str(), read_only);
  auto again = reader->get_blob(hash);
  REQUIRE(again.ok());
  REQUIRE(again->has_value());
  CHECK(**again == source);
  // A read-only store cannot take new blobs, and says why.
  auto refused = reader->put_blob("new source");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("a hash with no blob reads as nothing, and a malformed hash is refused naming it",
          "[store][blob]") {
  TempDir dir;
  auto store = open_store(dir.str());
  auto absent = store->get_blob(Sha256::of("never stored").hex());
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->has_value());
  for (std::string bad :
       {std::string("abc"), std::string(64, 'g'), std::string(), Sha256::of("x").hex() + "0"}) {
    auto refused = store->get_blob(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(refused.status().message(), Catch::Contains("'" + bad + "'"));
  }
}

TEST_CASE("a blob over 16 MiB is refused naming its size and the cap, 16 MiB itself is kept",
          "[store][blob]") {
  TempDir dir;
  auto store = open_store(dir.str());
  const uint64_t before = used_bytes(*store);
  std::string over(EventStore::kMaxBlobBytes + 1, 'x');
  auto refused = store->put_blob(over);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains(std::to_string(over.size())));
  CHECK_THAT(refused.status().message(),
             Catch::Contains(std::to_string(EventStore::kMaxBlobBytes)));
  CHECK(used_bytes(*store) == before);
  over.pop_back();
  auto kept = store->put_blob(over);
  INFO(kept.status().to_string());
  REQUIRE(kept.ok());
  auto back = store->get_blob(*kept);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK((*back)->size() == EventStore::kMaxBlobBytes);
}

TEST_CASE("a blob with a flipped byte fails get_blob and verify naming its hash, until put again",
          "[store][blob][verify]") {
  TempDir dir;
  const std::string source = source_of("BLOB-MARKER-7", 20000);
  const std::string hash = Sha256::of(source).hex();
  {
    auto store = open_store(dir.str());
    create_run(*store, "alpha");
    append_one(*store, "alpha", "script_loaded", Json::object({{"source_sha256", hash}}));
    REQUIRE(store->put_blob(source).ok());
    auto report = store->verify();
    REQUIRE(report.ok());
    CHECK(report->ok);
  }
  flip_byte_of((dir / "data.mdb").string(), "BLOB-MARKER-7");
  auto store = open_store(dir.str());
  auto damaged = store->get_blob(hash);
  REQUIRE_FALSE(damaged.ok());
  CHECK(damaged.status().code() == StatusCode::kCorruption);
  CHECK_THAT(damaged.status().message(), Catch::Contains(hash));
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK_FALSE(report->ok);
  CHECK_THAT(report->problem, Catch::Contains(hash));
  CHECK_THAT(report->problem, Catch::Contains("does not match its hash"));
  // The events themselves are fine: a run's own verify does not scan other blobs.
  auto alpha = store->verify(RunId("alpha"));
  REQUIRE(alpha.ok());
  CHECK(alpha->ok);
  // Whoever still has the source can put it back: the damaged copy is replaced.
  auto repaired = store->put_blob(source);
  REQUIRE(repaired.ok());
  CHECK(*repaired == hash);
  auto back = store->get_blob(hash);
  REQUIRE(back.ok());
  REQUIRE(back->has_value());
  CHECK(**back == source);
  auto clean = store->verify();
  REQUIRE(clean.ok());
  CHECK(clean->ok);
}

TEST_CASE(
    "a blob too large for the disk fails with disk_full naming the file, and the store "
    "goes on",
    "[store][blob][crash]") {
  for (const char* mode : {"effects", "none"}) {
    INFO(mode);
    TempDir dir;
    const std::string ledger = (dir / "ledger").string();
    // A disk of the child's own (ledger_child's smalldisk, as any user): room for the ledger
    // and the space reserved ahead of it, not for the blob.
    artana::testing::ChildProcess child({ARTANA_LEDGER_CHILD, ledger, mode});
    child.send("smalldisk 6m");
    const std::string mounted = child.read_line();
    INFO(mounted);
    REQUIRE(mounted == "ok");
    child.send("blob HUGE " + std::to_string(8 << 20));
    const std::string refused = child.read_line();
    CHECK_THAT(refused, Catch::StartsWith("err disk_full"));
    CHECK_THAT(refused, Catch::Contains(ledger + "/data.mdb"));
    child.send("blob small 19");
    std::istringstream stored(child.read_line());
    std::string word, hash;
    REQUIRE((stored >> word >> hash));
    REQUIRE(word == "ok");
    child.send("getblob " + hash);
    CHECK(child.read_line() == "ok 19");
    child.send("quit");
    CHECK(child.wait() == 0);
  }
}

TEST_CASE("the kernel stores a script source and loads it back by hash after a restart",
          "[kernel][blob]") {
  KernelHost host;
  const std::string source = "local run = ...\nreturn run:model('greet', {prompt = 'hi'})\n";
  auto hash = host.kernel->store_source(source);
  REQUIRE(hash.ok());
  CHECK(*hash == Sha256::of(source).hex());
  auto again = host.kernel->store_source(source);
  REQUIRE(again.ok());
  CHECK(*again == *hash);
  host.reopen();
  auto loaded = host.kernel->load_source(*hash);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  CHECK(**loaded == source);
  auto unknown = host.kernel->load_source(Sha256::of("other").hex());
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->has_value());
  auto malformed = host.kernel->load_source("not-a-hash");
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.status().code() == StatusCode::kInvalidArgument);
}

// Every replayed result's text is checked for a reference key before its payload is walked to
// expand it: a '$' anywhere else (a schema's "$ref", a price in a string) is no reference.
TEST_CASE("only a quoted \"$artana. marks a payload that may hold references", "[blob]") {
  using artana::kernel::ledger::has_reserved_key;
  CHECK(has_reserved_key(R"({"$artana.blob":"ab"})"));
  CHECK(has_reserved_key(R"({"a":[1,{"$artana.concat":[]}]})"));
  CHECK_FALSE(has_reserved_key(""));
  CHECK_FALSE(has_reserved_key("$"));
  CHECK_FALSE(has_reserved_key(R"({"$ref":"#/x","price":"$12"})"));
  CHECK(has_reserved_key(R"({"k":"$artana.blob"})"));  // may: the expansion walk decides
  CHECK_FALSE(has_reserved_key(R"({"$artana"})"));     // cut short
  CHECK(has_reserved_key(R"("$artana.)"));             // at the very start and end
  CHECK_FALSE(has_reserved_key(R"("$artana)"));
}
