// A data.mdb cut short where its root pages survive but pages its trees reach do not: opened
// by any command it is refused as corruption (naming the page), never mapped and read past its
// end. tests/kernel/ledger_damage_test.cc covers cuts below the header and root pages.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "artana/kernel/lmdb_event_store.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

using namespace artana;
using namespace artana::kernel;
using artana::testing::run_cli;
using artana::testing::TempDir;

TEST_CASE("a data.mdb cut inside pages its trees still reach is refused, wherever the cut",
          "[store][damage]") {
  TempDir dir;
  // One CLI process per run: later commits reuse pages freed by earlier ones, so the newest
  // roots sit below pages the trees still reach, and the root check alone would pass a file
  // cut between them (it once did: every command that read there died of SIGBUS, and a
  // writer extended the file with zeros and died on LMDB's assertion).
  const std::string script = (dir / "steps.lua").string();
  std::ofstream(script) << "return function(run)\n"
                           "  local n = 0\n"
                           "  for i = 1, 300 do n = n + run:random(10) end\n"
                           "  return n\n"
                           "end\n";
  const std::filesystem::path source = dir / "ledger";
  for (int r = 0; r < 6; ++r) {
    REQUIRE(
        run_cli("--data " + source.string() + " run " + script + " --run-id r" + std::to_string(r))
            .exit_code == 0);
  }
  const uint64_t full = std::filesystem::file_size(source / "data.mdb");
  constexpr uint64_t kPage = 4096;
  int refused_by_walk = 0, opened = 0;
  // Every page boundary in the upper half (the roots are written last, so the cuts below
  // them are the first test's): each cut is refused as corruption, or opens and verifies —
  // never read past the end (SIGBUS would end this test process).
  for (uint64_t size = full / 2 / kPage * kPage; size < full; size += kPage) {
    INFO("truncated to " << size << " of " << full << " bytes");
    TempDir copy;
    std::filesystem::copy_file(source / "data.mdb", copy / "data.mdb");
    std::filesystem::resize_file(copy / "data.mdb", size);
    LmdbStoreOptions options;
    options.read_only = true;
    options.initial_map_bytes = 0;
    auto store = open_lmdb_store(copy.path().string(), options);
    if (!store.ok()) {
      CHECK(store.status().code() == StatusCode::kCorruption);
      CHECK_THAT(store.status().message(), Catch::Contains("data.mdb is truncated"));
      if (store.status().message().find("of its trees") != std::string::npos) ++refused_by_walk;
      continue;
    }
    ++opened;
    auto report = (*store)->verify();
    REQUIRE(report.ok());
    CHECK(report->ok);
    for (int r = 0; r < 6; ++r) CHECK((*store)->read(RunId("r" + std::to_string(r))).ok());
  }
  CHECK(refused_by_walk > 0);  // cuts above every root but inside a reachable page
  CHECK(opened > 0);           // cuts inside the zero-filled tail are harmless
}
