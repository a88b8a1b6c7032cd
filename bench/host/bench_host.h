// What the Host benchmarks share: a ledger with a Kernel and a Host on it
// (durability none), scripts written to the bench directory, a clock stamped by a script's
// print(), and exiting on any error.
#pragma once

#include <errno.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "artana/host/host.h"
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel.h"
#include "artana/kernel/lmdb_event_store.h"
#include "support/bench_report.h"
#include "support/bench_settings.h"

namespace artana::bench {

using kernel::Durability;
using kernel::EventStore;
using kernel::Json;
using kernel::Kernel;
using kernel::LmdbStoreOptions;
using kernel::RunId;
using kernel::RunStatus;
using kernel::TenantId;

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
                 r.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

inline void must(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
                 s.to_string().c_str());
    std::exit(1);
  }
}

inline std::string text(const Json& value) {
  auto encoded = canonical_json(value);
  return encoded.ok() ? *encoded : "<unencodable>";
}

// A ledger with a Kernel and a Host on it. reopen() drops all three and opens them again:
// what a second process sees (the page cache stays warm).
struct Bench {
  std::string dir;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<Kernel> kernel;
  std::unique_ptr<host::Host> host;

  Bench(std::string ledger_dir, host::HostOptions options) : dir(std::move(ledger_dir)) {
    std::filesystem::remove_all(dir);
    reopen(std::move(options));
  }

  void reopen(host::HostOptions options) {
    host.reset();
    kernel.reset();
    store.reset();
    LmdbStoreOptions store_options;
    store_options.durability = Durability::kNone;
    store = must(open_lmdb_store(dir, store_options), "opening the ledger");
    kernel = must(Kernel::open(*store), "opening the kernel");
    if (!options.print_sink) options.print_sink = [](const RunId&, std::string_view) {};
    host = std::make_unique<host::Host>(*kernel, std::move(options));
  }

  void start(const std::string& script, const std::string& run, Json input = Json::object()) {
    host::RunOptions options;
    options.run_id = RunId(run);
    options.tenant.tenant_id = TenantId("bench");
    options.input = std::move(input);
    must(host->start(script, std::move(options)), "starting a run");
  }

  // Ticks until no run has work ready or a request in flight (waited for, not polled);
  // returns the number of ticks.
  int drive(std::chrono::microseconds budget = std::chrono::milliseconds(50)) {
    int ticks = 0;
    for (;; ++ticks) {
      if (host->idle()) {
        if (host->in_flight() == 0) break;
        host->wait_for_work(std::chrono::milliseconds(100));
      }
      host->tick(budget);
    }
    return ticks;
  }

  host::RunOutcome outcome(const std::string& run, RunStatus want) {
    std::optional<host::RunOutcome> got = host->outcome(RunId(run));
    if (!got || got->status != want) {
      std::fprintf(stderr, "%s: run %s ended %s, expected %s: %s\n", program_invocation_short_name,
                   run.c_str(), got ? std::string(run_status_name(got->status)).c_str() : "unknown",
                   std::string(run_status_name(want)).c_str(), got ? text(got->error).c_str() : "");
      std::exit(1);
    }
    return *got;
  }
};

// Stamps the steady clock at each print() of a script: markers around the blocks a figure
// times, so loading the run and compiling the script fall outside them.
struct StampPrints {
  std::vector<double> stamps;  // steady µs of each marker while recording
  bool recording = false;

  host::HostOptions options(host::HostOptions o = {}) {
    o.print_sink = [this](const RunId&, std::string_view) {
      if (recording) stamps.push_back(now_us());
    };
    return o;
  }
};

inline std::string write_script(const std::string& dir, const std::string& name,
                                const std::string& source) {
  const std::string path = dir + "/scripts/" + name;
  std::filesystem::create_directories(dir + "/scripts");
  std::ofstream(path) << source;
  return path;
}

}  // namespace artana::bench
