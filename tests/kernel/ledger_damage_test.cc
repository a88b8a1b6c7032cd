// A damaged data.mdb is reported as damage, never a crash: a file cut short once killed
// `ledger verify`, `export`, `status` and `runs` with SIGBUS (6 of 12 sizes tried).
#include <catch2/catch.hpp>

#include <filesystem>

#include "support/store_fixture.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::append_one;
using artana::testing::create_run;
using artana::testing::open_store;
using artana::testing::TempDir;

TEST_CASE("a data.mdb cut below its header pages or a tree's root is refused as corruption",
          "[store][damage]") {
  TempDir source;
  {
    auto store = open_store(source.path().string());
    for (int r = 0; r < 8; ++r) {
      const std::string run = "r" + std::to_string(r);
      create_run(*store, run);
      for (int i = 0; i < 50; ++i) {
        append_one(*store, run, "note", Json::object({{"text", std::string(300, 'x')}}));
      }
    }
  }
  const auto full = std::filesystem::file_size(source / "data.mdb");
  REQUIRE(full > 64 * 1024);
  // Cut below a page LMDB must have written (its header pages, a tree's root) the file is
  // refused before it is mapped. (A file may legitimately end before the meta's last page:
  // pages allocated and freed in one transaction are never written.)
  for (uint64_t size : {uint64_t{1}, uint64_t{4096}, uint64_t{8192}, uint64_t{12288}}) {
    INFO("truncated to " << size << " of " << full << " bytes");
    TempDir copy;
    std::filesystem::copy_file(source / "data.mdb", copy / "data.mdb");
    std::filesystem::resize_file(copy / "data.mdb", size);
    for (bool read_only : {true, false}) {
      LmdbStoreOptions options;
      options.read_only = read_only;
      options.initial_map_bytes = 0;
      auto opened = open_lmdb_store(copy.path().string(), options);
      REQUIRE_FALSE(opened.ok());
      CHECK(opened.status().code() == StatusCode::kCorruption);
      CHECK_THAT(opened.status().message(), Catch::Contains("data.mdb is truncated"));
      CHECK_THAT(opened.status().message(), Catch::Contains(std::to_string(size) + " bytes"));
    }
  }
  // The whole file opens and verifies.
  LmdbStoreOptions options;
  options.read_only = true;
  options.initial_map_bytes = 0;
  auto intact = open_lmdb_store(source.path().string(), options);
  REQUIRE(intact.ok());
  auto report = (*intact)->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a lock.mdb LMDB cannot use is named, not blamed on data.mdb", "[store][damage]") {
  TempDir dir;
  {
    auto store = open_store(dir.path().string());
    create_run(*store, "r");
  }
  std::filesystem::remove(dir / "lock.mdb");
  std::filesystem::create_directory(dir / "lock.mdb");
  for (bool read_only : {true, false}) {
    LmdbStoreOptions options;
    options.read_only = read_only;
    options.initial_map_bytes = 0;
    auto opened = open_lmdb_store(dir.path().string(), options);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == StatusCode::kIoError);
    CHECK_THAT(opened.status().message(),
               Catch::Contains("lock.mdb") && !Catch::Contains("data.mdb"));
  }
  // Moved away, the ledger opens again: the lock file holds no data.
  std::filesystem::remove(dir / "lock.mdb");
  auto store = open_store(dir.path().string());
  CHECK(store->run_info(RunId("r")).ok());
}
