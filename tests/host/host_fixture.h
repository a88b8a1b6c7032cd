// A Host on a real LMDB ledger in a temp dir, with scripts written to files, a clock the
// test moves, and helpers to drive runs until they are idle.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "artana/host/host.h"
#include "support/kernel_fixture.h"

namespace artana::testing {

struct HostFixture {
  KernelHost kernel_host;
  int64_t clock_us = 1'700'000'000'000'000;
  std::vector<std::string> printed;
  std::unique_ptr<host::Host> host;

  explicit HostFixture(host::HostOptions options = {}) { restart(std::move(options)); }

  // A new Host and Kernel on the same ledger: what a second process sees. The kernel is
  // permissive unless `kernel_options` say otherwise (host::policy_kernel_options(true)).
  void restart(host::HostOptions options = {}, kernel::KernelOptions kernel_options = {});

  // Writes `source` to <dir>/<name> and returns the path.
  std::string script(const std::string& name, const std::string& source);

  // Starts (or re-executes) `path` as run `run_id` and ticks until the host is idle.
  host::RunOutcome run(const std::string& path, const std::string& run_id,
                       kernel::Json input = kernel::Json::object(), host::RunOptions options = {});
  // Ticks until idle; returns the run's outcome.
  host::RunOutcome drive(const std::string& run_id);

  std::vector<kernel::Event> events(const std::string& run_id);
  size_t count(const std::string& run_id, const std::string& type);
};

// Options for run `id` of tenant "acme".
host::RunOptions acme_run(const std::string& id);

// The JSON text of a value (for readable assertions).
std::string text(const kernel::Json& value);

}  // namespace artana::testing
