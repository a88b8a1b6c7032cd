#include "host/host_fixture.h"

#include <catch2/catch.hpp>

#include "artana/kernel/canonical_json.h"

namespace artana::testing {

host::RunOptions acme_run(const std::string& id) {
  host::RunOptions options;
  options.run_id = kernel::RunId(id);
  options.tenant.tenant_id = kernel::TenantId("acme");
  return options;
}

void HostFixture::restart(host::HostOptions options, kernel::KernelOptions kernel_options) {
  host.reset();
  kernel_host.reopen(std::move(kernel_options));
  options.clock = [this] { return clock_us; };
  options.print_sink = [this](const kernel::RunId&, std::string_view line) {
    printed.emplace_back(line);
  };
  host = std::make_unique<host::Host>(*kernel_host.kernel, std::move(options));
}

std::string HostFixture::script(const std::string& name, const std::string& source) {
  const auto path = kernel_host.dir / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << source;
  return path.string();
}

host::RunOutcome HostFixture::run(const std::string& path, const std::string& run_id,
                                  kernel::Json input, host::RunOptions options) {
  options.run_id = kernel::RunId(run_id);
  if (options.tenant.tenant_id.str().empty()) options.tenant.tenant_id = kernel::TenantId("acme");
  options.input = std::move(input);
  auto started = host->start(path, std::move(options));
  REQUIRE(started.ok());
  return drive(run_id);
}

host::RunOutcome HostFixture::drive(const std::string& run_id) {
  // Until nothing is ready and no request is in flight; a completion is waited for, not
  // polled (at most a minute in all).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    host->tick(std::chrono::milliseconds(50));
    if (!host->idle()) continue;
    if (host->in_flight() == 0) break;
    host->wait_for_work(std::chrono::milliseconds(200));
  }
  auto outcome = host->outcome(kernel::RunId(run_id));
  REQUIRE(outcome.has_value());
  return *outcome;
}

std::vector<kernel::Event> HostFixture::events(const std::string& run_id) {
  return events_of(*kernel_host.store, run_id);
}

size_t HostFixture::count(const std::string& run_id, const std::string& type) {
  return count_type(events(run_id), type);
}

std::string text(const kernel::Json& value) {
  auto encoded = kernel::canonical_json(value);
  return encoded.ok() ? *encoded : "<" + encoded.status().message() + ">";
}

}  // namespace artana::testing
