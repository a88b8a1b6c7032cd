#include "ledger_commands.h"

#include <cstdio>
#include <optional>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/error_kind.h"
#include "artana/kernel/lmdb_event_store.h"

namespace artana::host {
namespace {

using kernel::EventStore;
using kernel::Json;
using kernel::RunId;

void print_error(const std::string& message) {
  std::fprintf(stderr, "artana: %s\n", message.c_str());
}

// Verify and export only read: open read-only so a missing ledger is reported, not created.
Result<std::unique_ptr<EventStore>> open_for_reading(const GlobalOptions& global) {
  kernel::LmdbStoreOptions options;
  options.read_only = true;
  options.initial_map_bytes = 0;
  return kernel::open_lmdb_store(global.data_dir, options);
}

int verify(const GlobalOptions& global, std::optional<RunId> run) {
  auto store = open_for_reading(global);
  if (!store.ok()) {
    print_error("cannot open the ledger: " + store.status().to_string());
    return exit_code::kLedgerUnavailable;
  }
  auto report = (*store)->verify(run);
  if (!report.ok()) {
    print_error("verify could not run: " + report.status().to_string());
    return report.status().code() == StatusCode::kNotFound ? exit_code::kNotFound
                                                           : exit_code::kLedgerUnavailable;
  }
  if (global.json) {
    Json out = Json::object({{"ok", report->ok},
                             {"runs_checked", static_cast<int64_t>(report->runs_checked)},
                             {"events_checked", static_cast<int64_t>(report->events_checked)}});
    if (!report->ok) {
      out.set("bad_run_id", report->bad_run_id);
      out.set("bad_seq", static_cast<int64_t>(report->bad_seq));
      out.set("problem", report->problem);
    }
    auto text = kernel::canonical_json(out);
    std::printf("%s\n", text.ok() ? text->c_str() : "{\"ok\":false}");
  } else if (report->ok) {
    std::printf("ledger ok: %llu runs, %llu events verified in %s\n",
                static_cast<unsigned long long>(report->runs_checked),
                static_cast<unsigned long long>(report->events_checked),
                (*store)->data_dir().c_str());
  } else {
    std::printf("ledger INVALID: run '%s' seq %llu: %s\n", report->bad_run_id.c_str(),
                static_cast<unsigned long long>(report->bad_seq), report->problem.c_str());
  }
  return report->ok ? exit_code::kOk : exit_code::kLedgerInvalid;
}

int export_events(const GlobalOptions& global, std::optional<RunId> run, bool inline_values) {
  auto store = open_for_reading(global);
  if (!store.ok()) {
    print_error("cannot open the ledger: " + store.status().to_string());
    return exit_code::kLedgerUnavailable;
  }
  kernel::ExportOptions options;
  options.inline_large_values = inline_values;
  Status written = (*store)->export_jsonl(
      run,
      [](std::string_view line) -> Status {
        if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
          return Status::io_error("writing to standard output failed");
        }
        return Status();
      },
      options);
  if (!written.ok()) {
    print_error("export failed: " + written.to_string());
    if (written.code() == StatusCode::kNotFound) return exit_code::kNotFound;
    // The lines before the damaged event were printed: they are what the ledger holds.
    if (written.code() == StatusCode::kCorruption) return exit_code::kLedgerInvalid;
    return exit_code::kLedgerUnavailable;
  }
  return std::fflush(stdout) == 0 ? exit_code::kOk : exit_code::kLedgerUnavailable;
}

}  // namespace

int run_ledger_command(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.empty()) {
    print_error("ledger: expected a verb: verify [RUN_ID] | export [RUN_ID] [--inline]");
    return exit_code::kUsage;
  }
  const std::string& verb = args[0];
  std::optional<RunId> run;
  bool inline_values = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--inline" && verb == "export") {
      inline_values = true;
    } else if (!args[i].empty() && args[i][0] == '-') {
      print_error("ledger " + verb + ": unknown option '" + args[i] + "'");
      return exit_code::kUsage;
    } else if (args[i].empty()) {
      print_error("ledger " + verb + ": RUN_ID is empty");
      return exit_code::kUsage;
    } else if (run) {
      print_error("ledger " + verb + ": expected at most one RUN_ID, got '" + args[i] + "' too");
      return exit_code::kUsage;
    } else {
      run = RunId(args[i]);
    }
  }
  if (verb == "verify") return verify(global, run);
  if (verb == "export") return export_events(global, run, inline_values);
  print_error("ledger: unknown verb '" + verb + "' (expected verify or export)");
  return exit_code::kUsage;
}

}  // namespace artana::host
