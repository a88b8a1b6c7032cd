// How an execution of a run ends: the entry returned, raised, or the state was killed — and
// what the run looks like when it has nothing left to do here.
#include <spdlog/spdlog.h>

#include "artana/lua/lua_json.h"
#include "error_json.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using kernel::RunStatus;

kernel::RunId ScriptRun::active_run() {
  auto record = kernel_.run_record(tenant_, run_id_);
  return record.ok() ? record->active_run_id : run_id_;
}

// The kernel decides what an execution's end means for the run; the host reports it.
void ScriptRun::end_execution(kernel::ExecutionEnd end) {
  auto decided = kernel_.end_execution(tenant_, run_id_, end);
  if (!decided.ok()) {
    // Its end could not be recorded (a full disk, another owner): the run is as its events
    // left it — running, for a new execution once the cause is gone — never reported failed.
    Json error = status_error_json(decided.status());
    auto status = kernel_.status(tenant_, run_id_);
    return end_with(status.ok() ? *status : RunStatus::kRunning, Json(), std::move(error));
  }
  end_with(decided->status, std::move(decided->output), std::move(decided->error));
  name_fork(*ended_, decided->run_id);
}

void ScriptRun::name_fork(RunOutcome& outcome, const kernel::RunId& executed_in) const {
  if (executed_in == run_id_) return;
  outcome.run_id = executed_in;
  outcome.forked_from = run_id_;
}

void ScriptRun::entry_returned(Task& entry, int nresults) {
  Json output;
  if (nresults > 0) {
    auto converted = lua::to_json(entry.thread, -nresults, "output");
    if (!converted.ok() && lua_->killed()) return killed();  // too big to build: a limit
    if (!converted.ok()) {
      Json error = status_error_json(converted.status().with_kind(ErrorKind::kScriptError));
      error.set("message",
                "the entry's return value cannot be recorded: " + converted.status().message());
      finish_task(entry);
      return entry_raised(entry, std::move(error));
    }
    output = std::move(*converted);
  }
  finish_task(entry);
  end_execution({kernel::ExecutionEnd::Kind::kReturned, std::move(output), Json()});
}

// A raised error's kind names a decision (a halt, a denial, another owner) only when the host
// raised that kind in this execution; any other kind is the script's own data. So a script
// cannot pick its exit code or status with error({kind = "budget_exceeded"}): its run fails
// with script_error, the kind it wrote kept as script_kind.
void ScriptRun::keep_script_kind(Json& error) const {
  const Json* kind = error.find("kind");
  if (kind == nullptr || !kind->is_string()) return;
  const std::optional<ErrorKind> parsed = parse_error_kind(kind->as_string());
  if (parsed == ErrorKind::kScriptError || (parsed && lua_->raised(*parsed))) return;
  error.set("script_kind", kind->as_string());
  error.set("kind", error_kind_name(ErrorKind::kScriptError));
}

void ScriptRun::entry_raised(Task& entry, Json error) {
  if (entry.thread != nullptr) finish_task(entry);
  keep_script_kind(error);
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
  end_execution({kernel::ExecutionEnd::Kind::kRaised, Json(), std::move(error)});
}

void ScriptRun::killed() {
  if (ended_) return;
  if (draining_) {
    // An old execution's call hit a limit: the call is dropped (abandoned when the host
    // drops this execution), never the run's end — the new execution owns the run.
    ready_.clear();
    live_work_ = 0;
    ended_ = RunOutcome{};
    return;
  }
  if (lua_->interrupted()) {
    // The process is stopping: the run stays as its events left it, for a new execution.
    return end_with(RunStatus::kRunning, Json(), Json());
  }
  const char* reason = lua_->kill_reason();
  Json error =
      Json::object({{"kind", error_kind_name(ErrorKind::kLimitExceeded)},
                    {"message", std::string(reason != nullptr ? reason : "limit") + " exceeded"}});
  if (!started_) return end_with(RunStatus::kFailed, Json(), std::move(error));
  end_execution({kernel::ExecutionEnd::Kind::kKilled, Json(), std::move(error)});
}

void ScriptRun::keep_lease(std::chrono::steady_clock::time_point now) {
  if (!started_ || !busy()) return;
  const auto interval = std::chrono::microseconds(kernel_.lease_ttl_us() / 3);
  if (now - lease_renewed_ < interval) return;
  if (now - lease_renewed_ > interval * 2) {
    // Late: another process may take the run over once a full TTL passes without renewal.
    spdlog::warn(
        "run={} lease renewed {} ms late (the host did not tick)", run_id_.str(),
        std::chrono::duration_cast<std::chrono::milliseconds>(now - lease_renewed_ - interval)
            .count());
  }
  lease_renewed_ = now;
  Status renewed = kernel_.renew_lease(tenant_, run_id_);
  if (renewed.ok()) return;
  // Another process owns the run now: this execution stops where it is; the run is not ours
  // to end (its new owner goes on from the ledger).
  spdlog::warn("run={} lost its lease ({}); this execution stops", run_id_.str(),
               renewed.message());
  Json error = status_error_json(renewed);
  auto status = kernel_.status(tenant_, run_id_);
  end_with(status.ok() ? *status : RunStatus::kRunning, Json(), std::move(error));
}

void ScriptRun::watch_cancel() {
  if (!started_ || !busy()) return;
  Result<bool> cancelled = kernel_.take_cancel(tenant_, run_id_);
  if (!cancelled.ok()) {
    spdlog::warn("run={} could not check for a cancel: {}", run_id_.str(),
                 cancelled.status().message());
    return;
  }
  if (!*cancelled) return;
  // Its tasks and live calls go with this execution (their handles abandon the calls).
  spdlog::info("run={} cancelled; its execution stops", run_id_.str());
  end_with(RunStatus::kCancelled, Json(),
           Json::object({{"kind", error_kind_name(ErrorKind::kCancelled)},
                         {"message", "the run was cancelled"}}));
}

void ScriptRun::crashed(std::string_view what) {
  if (ended_) return;
  if (draining_) return killed();
  Json error =
      Json::object({{"kind", error_kind_name(ErrorKind::kInternal)},
                    {"message", "the host failed running this run: " + std::string(what)}});
  spdlog::error("run={} ended by a host failure (kind=internal): {}; other runs go on",
                run_id_.str(), what);
  if (!started_) return end_with(RunStatus::kFailed, Json(), std::move(error));
  end_execution({kernel::ExecutionEnd::Kind::kKilled, Json(), std::move(error)});
}

void ScriptRun::end_with(RunStatus status, Json output, Json error) {
  RunOutcome outcome;
  // Before the run started here (another process holds it) the id is the one asked for.
  outcome.run_id = run_id_.empty() && options_.run_id ? *options_.run_id : run_id_;
  outcome.status = status;
  outcome.output = std::move(output);
  outcome.error = std::move(error);
  ended_ = std::move(outcome);
  ready_.clear();
  host_.forget_native(*this);  // a late completion is refused: nothing more is recorded here
}

std::optional<RunOutcome> ScriptRun::outcome() const {
  // Not settled before what it recorded is in the ledger (commits_landed_now settles it).
  if (!in_ledger()) return std::nullopt;
  if (ended_) return ended_;
  if (!ready_.empty() || live_work_ > 0 || awaiting_state_ != 0) return std::nullopt;
  // Idle: every task waits for a pause's input or a timer.
  RunOutcome outcome;
  outcome.run_id = run_id_;
  auto decided = kernel_.end_execution(tenant_, run_id_, {kernel::ExecutionEnd::Kind::kIdle});
  outcome.status = decided.ok() ? decided->status : RunStatus::kRunning;
  if (decided.ok()) {
    outcome.error = std::move(decided->error);
    name_fork(outcome, decided->run_id);
  }
  return outcome;
}

bool ScriptRun::caught_up() {
  if (ended_) return true;
  if (!started_) return false;
  // Nothing recorded ahead is not enough: a step still in flight (open, no terminal) is not
  // "ahead", and the new code has not met it until it waits on it (adopted, or drifted).
  if (ready_.size() > 0 && !went_live_) return false;
  auto replaying = kernel_.replaying(tenant_, run_id_);
  return replaying.ok() && !*replaying;
}

void ScriptRun::note_drift(const std::string& step_key, const std::vector<std::string>& fields) {
  if (fields.empty() || !first_drift_.is_null()) return;
  Json::Array names;
  for (const std::string& field : fields) names.emplace_back(field);
  first_drift_ = Json::object({{"step_key", step_key}, {"drift_fields", Json(std::move(names))}});
}

}  // namespace artana::host
