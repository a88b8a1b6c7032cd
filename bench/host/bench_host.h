// What the Host benchmarks share: their flags, a ledger with a Kernel and a Host on it
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

// The flags every Host benchmark takes: --json, --quick, --dir DIR, --only GROUP.
struct Settings {
  bool json = false;
  bool quick = false;
  std::string dir;         // where the ledgers go: a new directory under $TMPDIR unless given
  bool temporary = false;  // dir was made here: main removes it at the end
  std::string only;        // a group or a figure's name; empty: everything

  bool wants(const char* group, const char* figure = "") const {
    return only.empty() || only == group || only == figure;
  }
};

// Parses the flags (`groups` for the usage line, "a|b|c") and makes the directory; exits 2
// on a flag it does not know.
inline Settings parse_settings(int argc, char** argv, const char* groups, const char* tmp_prefix) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      s.json = true;
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      s.quick = true;
    } else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      s.dir = argv[++i];
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      s.only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--json] [--quick] [--dir DIR] [--only %s]\n",
                   program_invocation_short_name, groups);
      std::exit(2);
    }
  }
  s.temporary = s.dir.empty();
  if (s.temporary) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(tmp_prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "%s: cannot make a directory under %s\n", program_invocation_short_name,
                   std::filesystem::temp_directory_path().c_str());
      std::exit(1);
    }
    s.dir = pattern;
  }
  std::filesystem::create_directories(s.dir);
  return s;
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
