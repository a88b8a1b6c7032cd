#include "run_commands.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/error_kind.h"
#include "artana/kernel/json_parse.h"
#include "artana/kernel/kernel.h"
#include "artana/kernel/lmdb_event_store.h"

namespace artana::host {
namespace {

using kernel::Json;
using kernel::RunId;
using kernel::RunInfo;
using kernel::RunStatus;

int usage(const std::string& message) {
  std::fprintf(stderr, "artana: %s (see artana --help)\n", message.c_str());
  return exit_code::kUsage;
}

int failure(const Status& status) {
  std::fprintf(stderr, "artana: %s\n", kernel::one_line_text(status.to_string()).c_str());
  return kernel::exit_code_for(status);
}

void print_json(const Json& value) {
  auto text = kernel::canonical_json(value);
  std::printf("%s\n", text.ok() ? text->c_str() : "{}");
}

Json run_json(const RunInfo& info) {
  Json out = Json::object({{"run_id", info.header.run_id.str()},
                           {"tenant_id", info.header.tenant_id.str()},
                           {"status", kernel::run_status_name(info.status)},
                           {"head_seq", static_cast<int64_t>(info.head_seq)}});
  // Who executes the run now (a process holding its lease), so an operator knows whom to ask.
  if (!info.lease.owner_id.empty()) {
    out.set("owner", Json::object({{"owner_id", info.lease.owner_id},
                                   {"pid", info.lease.pid},
                                   {"epoch", static_cast<int64_t>(info.lease.epoch)},
                                   {"expires_at_us", info.lease.expires_at_us}}));
  }
  return out;
}

// The value following `flag` at args[i], advancing i; nullopt when missing.
std::optional<std::string> flag_value(const std::vector<std::string>& args, size_t& i) {
  if (i + 1 >= args.size()) return std::nullopt;
  return args[++i];
}

struct Opened {
  std::unique_ptr<kernel::EventStore> store;
  std::unique_ptr<kernel::Kernel> kernel;
};

Result<Opened> open_kernel(const GlobalOptions& global) {
  Opened opened;
  kernel::LmdbStoreOptions options;
  options.lease_ttl_ms = global.lease_ttl_ms;
  ARTANA_ASSIGN_OR_RETURN(opened.store, kernel::open_lmdb_store(global.data_dir, options));
  ARTANA_ASSIGN_OR_RETURN(opened.kernel, kernel::Kernel::open(*opened.store));
  return opened;
}

int status_verb(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.size() != 2) return usage("status needs exactly one RUN_ID");
  kernel::LmdbStoreOptions options;
  options.read_only = true;
  options.initial_map_bytes = 0;
  auto store = kernel::open_lmdb_store(global.data_dir, options);
  if (!store.ok()) return failure(store.status());
  auto info = (*store)->head(RunId(args[1]));
  if (!info.ok()) return failure(info.status());
  auto totals = (*store)->totals(RunId(args[1]));
  Json out = run_json(*info);
  if (totals.ok()) out.set("spend_micro_usd", totals->spend_micro_usd);
  if (global.json) {
    print_json(out);
  } else {
    std::printf("%s: %s (tenant %s, %llu events, spent %lld micro-USD)\n", args[1].c_str(),
                std::string(kernel::run_status_name(info->status)).c_str(),
                info->header.tenant_id.str().c_str(),
                static_cast<unsigned long long>(info->head_seq),
                static_cast<long long>(totals.ok() ? totals->spend_micro_usd : 0));
  }
  return kernel::exit_code_for(info->status, ErrorKind::kNone);
}

int runs_verb(const GlobalOptions& global, const std::vector<std::string>& args) {
  std::optional<std::string> tenant;
  std::optional<RunStatus> status;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--tenant") {
      tenant = flag_value(args, i);
      if (!tenant) return usage("--tenant needs a tenant id");
    } else if (args[i] == "--status") {
      auto name = flag_value(args, i);
      if (!name) return usage("--status needs a status");
      auto parsed = kernel::parse_run_status(*name);
      if (!parsed.ok()) return usage(parsed.status().message());
      status = *parsed;
    } else {
      return usage("runs takes --tenant T and --status S, not '" + args[i] + "'");
    }
  }
  kernel::LmdbStoreOptions options;
  options.read_only = true;
  options.initial_map_bytes = 0;
  auto store = kernel::open_lmdb_store(global.data_dir, options);
  if (!store.ok()) return failure(store.status());
  auto runs =
      tenant ? (*store)->list_runs(kernel::TenantId(*tenant), status) : (*store)->list_all_runs();
  if (!runs.ok()) return failure(runs.status());
  for (const RunInfo& info : *runs) {
    if (status && info.status != *status) continue;
    if (global.json) {
      print_json(run_json(info));
    } else {
      std::printf("%s\t%s\t%s\t%llu\n", info.header.run_id.str().c_str(),
                  info.header.tenant_id.str().c_str(),
                  std::string(kernel::run_status_name(info.status)).c_str(),
                  static_cast<unsigned long long>(info.head_seq));
    }
  }
  return exit_code::kOk;
}

// `--wait`: until the run ended, applying the request itself once no live process holds
// the run (its owner died before it could).
Result<RunStatus> wait_for_end(Opened& opened, const kernel::TenantId& tenant, const RunId& run) {
  for (;;) {
    ARTANA_ASSIGN_OR_RETURN(RunInfo info, opened.store->head(run));
    if (info.status == RunStatus::kCompleted || info.status == RunStatus::kFailed ||
        info.status == RunStatus::kCancelled) {
      return info.status;
    }
    // The run as the ledger has it now.
    ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<kernel::Kernel> fresh,
                            kernel::Kernel::open(*opened.store));
    Result<bool> taken = fresh->take_cancel(tenant, run);
    if (!taken.ok() && taken.status().code() != StatusCode::kLeaseHeld &&
        taken.status().code() != StatusCode::kConflict) {
      return taken.status();
    }
    if (taken.ok() && *taken) return RunStatus::kCancelled;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int cancel_verb(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.size() < 2) return usage("cancel needs a RUN_ID");
  std::string reason = "cancelled by the operator";
  bool wait = false;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--wait") {
      wait = true;
      continue;
    }
    if (args[i] != "--reason") {
      return usage("cancel takes --reason TEXT and --wait, not '" + args[i] + "'");
    }
    auto text = flag_value(args, i);
    if (!text) return usage("--reason needs a text");
    reason = *text;
  }
  auto opened = open_kernel(global);
  if (!opened.ok()) return failure(opened.status());
  const RunId run(args[1]);
  auto info = opened->store->head(run);
  if (!info.ok()) return failure(info.status());
  auto cancelled = opened->kernel->cancel(info->header.tenant_id, run, reason);
  if (!cancelled.ok()) return failure(cancelled.status());
  std::string status = *cancelled == kernel::CancelResult::kCancelled ? "cancelled" : "requested";
  if (wait && *cancelled == kernel::CancelResult::kRequested) {
    auto ended = wait_for_end(*opened, info->header.tenant_id, run);
    if (!ended.ok()) return failure(ended.status());
    status = kernel::run_status_name(*ended);
  }
  if (global.json) {
    print_json(Json::object({{"run_id", run.str()}, {"cancel", status}}));
  } else if (status == "requested") {
    std::printf("%s: cancel requested; the process executing it stops it within one tick\n",
                run.str().c_str());
  } else {
    std::printf("%s: %s\n", run.str().c_str(), status.c_str());
  }
  return exit_code::kOk;
}

int reconcile_verb(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.size() < 2) return usage("reconcile needs a RUN_ID");
  std::optional<std::string> step, outcome, result;
  bool retry = false, abandon = false;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--step") {
      step = flag_value(args, i);
    } else if (args[i] == "--outcome") {
      outcome = flag_value(args, i);
    } else if (args[i] == "--result") {
      result = flag_value(args, i);
    } else if (args[i] == "--retry") {
      retry = true;
    } else if (args[i] == "--abandon") {
      abandon = true;
    } else {
      return usage("reconcile does not take '" + args[i] + "'");
    }
  }
  if (!step) return usage("reconcile needs --step KEY");
  if (int(retry) + int(abandon) + int(outcome.has_value()) != 1) {
    return usage("reconcile needs exactly one of --retry, --outcome success|failed, --abandon");
  }
  kernel::ReconcileDecision decision;
  if (retry) decision.kind = kernel::ReconcileDecision::Kind::kRetry;
  if (abandon) decision.kind = kernel::ReconcileDecision::Kind::kAbandon;
  if (outcome) {
    if (*outcome != "success" && *outcome != "failed") {
      return usage("--outcome is success or failed, not '" + *outcome + "'");
    }
    if (!result) return usage("--outcome needs --result JSON (the result, or the error)");
    auto parsed = kernel::parse_json(*result, "--result");
    if (!parsed.ok()) return usage(parsed.status().message());
    if (*outcome == "success") {
      decision.kind = kernel::ReconcileDecision::Kind::kSuccess;
      decision.result = std::move(parsed).value();
    } else {
      decision.kind = kernel::ReconcileDecision::Kind::kFailed;
      auto text = parsed->is_string() ? Result<std::string>(parsed->as_string())
                                      : kernel::canonical_json(*parsed);
      decision.error = text.ok() ? *text : *result;
    }
  }
  auto opened = open_kernel(global);
  if (!opened.ok()) return failure(opened.status());
  const std::string operator_id =
      std::string("cli:") + (std::getenv("USER") ? std::getenv("USER") : "operator");
  Status done = opened->kernel->reconcile(operator_id, RunId(args[1]), *step, decision);
  if (!done.ok()) return failure(done);
  if (global.json) {
    print_json(Json::object({{"run_id", args[1]}, {"step_key", *step}, {"reconciled", true}}));
  } else {
    std::printf("%s: step '%s' reconciled; resume the run to go on\n", args[1].c_str(),
                step->c_str());
  }
  return exit_code::kOk;
}

}  // namespace

int run_operator_command(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.empty()) return -1;
  if (args[0] == "status") return status_verb(global, args);
  if (args[0] == "runs") return runs_verb(global, args);
  if (args[0] == "cancel") return cancel_verb(global, args);
  if (args[0] == "reconcile") return reconcile_verb(global, args);
  return -1;
}

}  // namespace artana::host
