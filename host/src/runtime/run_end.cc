// How an execution of a run ends: the entry returned, raised, or the state was killed — and
// what the run looks like when it has nothing left to do here.
#include <spdlog/spdlog.h>

#include "artana/lua/lua_json.h"
#include "error_json.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using kernel::RunStatus;

namespace {

bool ended_status(RunStatus status) {
  return status == RunStatus::kCompleted || status == RunStatus::kFailed ||
         status == RunStatus::kCancelled;
}

}  // namespace

kernel::RunId ScriptRun::active_run() {
  auto record = kernel_.run_record(tenant_, run_id_);
  return record.ok() ? record->active_run_id : run_id_;
}

void ScriptRun::entry_returned(Task& entry, int nresults) {
  Json output;
  if (nresults > 0) {
    auto converted = lua::to_json(entry.thread, -nresults, "output");
    if (!converted.ok()) {
      Json error = status_error_json(converted.status().with_kind("script_error"));
      error.set("message",
                "the entry's return value cannot be recorded: " + converted.status().message());
      finish_task(entry);
      return entry_raised(entry, std::move(error));
    }
    output = std::move(*converted);
  }
  finish_task(entry);
  // After a fork_on_drift the run goes on (and ends) in its fork.
  const kernel::RunId active = active_run();
  auto status = kernel_.status(tenant_, active);
  if (!status.ok()) return end_with(RunStatus::kFailed, Json(), status_error_json(status.status()));
  if (*status == RunStatus::kCompleted) return end_with(*status, std::move(output), Json());
  // A halt the script caught with pcall still ends the run halted.
  if (halt_) return end_with(*status, Json(), status_error_json(*halt_));
  // The entry returned: the run is done, even if an older execution left it paused or
  // sleeping at a step this code no longer reaches.
  const bool open = *status == RunStatus::kRunning || *status == RunStatus::kPaused ||
                    *status == RunStatus::kSleeping;
  if (!open) return end_with(*status, Json(), Json());
  Status completed = kernel_.complete(tenant_, active, output);
  if (!completed.ok()) return end_with(RunStatus::kFailed, Json(), status_error_json(completed));
  end_with(RunStatus::kCompleted, std::move(output), Json());
}

void ScriptRun::entry_raised(Task& entry, Json error) {
  if (entry.thread != nullptr) finish_task(entry);
  if (!started_) {
    // Never got to run (a bad chunk, or another process holds the run): the run, if it
    // exists, is as it was.
    RunStatus status = RunStatus::kFailed;
    if (options_.run_id) {
      auto record = kernel_.run_record(options_.tenant.tenant_id, *options_.run_id);
      if (record.ok() && record->started) status = record->status;
    }
    return end_with(status, Json(), std::move(error));
  }
  if (halt_) error = status_error_json(*halt_);
  const kernel::RunId active = active_run();
  auto status = kernel_.status(tenant_, active);
  if (!status.ok()) return end_with(RunStatus::kFailed, Json(), std::move(error));
  // Another process owns the run: this execution stops; the run is not ours to end.
  const Json* kind = error.find("kind");
  if (kind != nullptr && kind->is_string() &&
      (kind->as_string() == "lease_held" || kind->as_string() == "fenced"))
    return end_with(*status, Json(), std::move(error));
  const bool open = *status == RunStatus::kRunning || *status == RunStatus::kPaused ||
                    *status == RunStatus::kSleeping;
  if (!open) return end_with(*status, Json(), std::move(error));
  // New code that breaks on old history is the code's fault, not the run's: it waits for a
  // fix in needs_attention instead of failing for good.
  auto replaying = kernel_.replaying(tenant_, active);
  if (replaying.ok() && *replaying) {
    Status held = kernel_.hold_for_attention(tenant_, active, error);
    if (held.ok()) return end_with(RunStatus::kNeedsAttention, Json(), std::move(error));
  }
  if (*status != RunStatus::kRunning) return end_with(*status, Json(), std::move(error));
  Status failed = kernel_.fail(tenant_, active, error);
  (void)failed;  // the run's error is what the caller needs either way
  end_with(RunStatus::kFailed, Json(), std::move(error));
}

void ScriptRun::killed() {
  if (ended_) return;
  const char* reason = lua_->kill_reason();
  Json error =
      Json::object({{"kind", "limit_exceeded"},
                    {"message", std::string(reason != nullptr ? reason : "limit") + " exceeded"}});
  if (started_) {
    const kernel::RunId active = active_run();
    auto status = kernel_.status(tenant_, active);
    if (status.ok() && !ended_status(*status)) (void)kernel_.fail(tenant_, active, error);
  }
  end_with(RunStatus::kFailed, Json(), std::move(error));
}

void ScriptRun::crashed(std::string_view what) {
  if (ended_) return;
  Json error =
      Json::object({{"kind", "internal"},
                    {"message", "the host failed running this run: " + std::string(what)}});
  spdlog::error("run={} ended by a host failure (kind=internal): {}; other runs go on",
                run_id_.str(), what);
  // The host's fault, not the run's: it waits for a fix in needs_attention.
  if (started_ && kernel_.hold_for_attention(tenant_, active_run(), error).ok())
    return end_with(RunStatus::kNeedsAttention, Json(), std::move(error));
  end_with(RunStatus::kFailed, Json(), std::move(error));
}

void ScriptRun::end_with(RunStatus status, Json output, Json error) {
  RunOutcome outcome;
  outcome.run_id = run_id_;
  outcome.status = status;
  outcome.output = std::move(output);
  outcome.error = std::move(error);
  ended_ = std::move(outcome);
  ready_.clear();
}

std::optional<RunOutcome> ScriptRun::outcome() const {
  if (ended_) return ended_;
  if (!ready_.empty() || live_work_ > 0) return std::nullopt;
  // Idle: every task waits for a pause's input or a timer.
  RunOutcome outcome;
  outcome.run_id = run_id_;
  auto status = kernel_.status(tenant_, const_cast<ScriptRun*>(this)->active_run());
  outcome.status = status.ok() ? *status : RunStatus::kRunning;
  if (halt_) outcome.error = status_error_json(*halt_);
  return outcome;
}

}  // namespace artana::host
