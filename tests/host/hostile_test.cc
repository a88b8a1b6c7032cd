// The hostile corpus (tests/hostile/README.md): each script runs beside a healthy run in one
// host under small limits; its run ends as its first line says, the healthy run completes,
// and the ledger verifies.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

struct Expectation {
  std::string status;
  std::string kind;  // empty: any
};

// "-- expect: failed limit_exceeded" on the first line.
Expectation expectation_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  constexpr std::string_view kPrefix = "-- expect: ";
  REQUIRE(line.rfind(kPrefix, 0) == 0);
  std::istringstream words(line.substr(kPrefix.size()));
  Expectation e;
  words >> e.status >> e.kind;
  return e;
}

std::vector<std::string> corpus() {
  std::vector<std::string> paths;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(ARTANA_SOURCE_DIR) + "/tests/hostile")) {
    if (entry.path().extension() == ".lua") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

TEST_CASE("every hostile script ends as expected beside a healthy run, the ledger intact",
          "[host][hostile]") {
  const std::vector<std::string> scripts = corpus();
  REQUIRE(scripts.size() >= 9);
  host::HostOptions options;
  options.limits.max_instructions = 5'000'000;
  options.limits.max_memory_bytes = 64 << 20;
  HostFixture f(options);
  const std::string healthy = f.script("healthy.lua", R"lua(
return function(run)
  local n = 0
  for i = 1, 20 do n = n + run:random(10) end
  return n
end
)lua");
  for (const std::string& path : scripts) {
    const std::string name = std::filesystem::path(path).stem().string();
    INFO(name);
    const Expectation expected = expectation_of(path);
    host::RunOptions hostile_options;
    hostile_options.run_id = kernel::RunId("hostile-" + name);
    hostile_options.tenant.tenant_id = kernel::TenantId("acme");
    host::RunOptions healthy_options;
    healthy_options.run_id = kernel::RunId("healthy-" + name);
    healthy_options.tenant.tenant_id = kernel::TenantId("acme");
    REQUIRE(f.host->start(path, hostile_options).ok());
    REQUIRE(f.host->start(healthy, healthy_options).ok());
    host::RunOutcome hostile = f.drive("hostile-" + name);
    host::RunOutcome beside = f.drive("healthy-" + name);
    INFO(text(hostile.error));
    CHECK(std::string(kernel::run_status_name(hostile.status)) == expected.status);
    if (!expected.kind.empty()) {
      const Json* kind = hostile.error.find("kind");
      REQUIRE(kind != nullptr);
      CHECK(kind->as_string() == expected.kind);
    }
    CHECK(beside.status == RunStatus::kCompleted);
    (void)f.host->unload(kernel::RunId("hostile-" + name));
    (void)f.host->unload(kernel::RunId("healthy-" + name));
  }
  auto report = f.kernel_host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

}  // namespace
}  // namespace artana::testing
