// Host: hot reload — a run executed again under new code while its calls in flight go on
// and are adopted (Kernel::reload, adoptions), a whole script's runs reloaded or suspended,
// and what each reloaded run's replay met, told once.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "artana/host/host.h"
#include "error_json.h"
#include "run_guard.h"
#include "schedule.h"
#include "script_run.h"

namespace artana::host {

bool Host::stop_keeping_calls(const kernel::RunId& run, RunOptions& options, std::string& path,
                              std::unique_ptr<PreparedState>* state) {
  auto it = runs_.find(run.str());
  if (it == runs_.end()) return false;
  options = it->second->options();
  options.run_id = run;
  if (it->second->started()) options.tenant.tenant_id = it->second->tenant();
  path = it->second->script_path();
  std::unique_ptr<ScriptRun> old = std::move(it->second);
  runs_.erase(it);
  // Loaded afresh for the next execution, keeping the lease and the calls in flight.
  // Read ahead unless a frame is being kept: the helper's reads, on a second core the pool
  // already uses, cost a frame's tail more than they save it (docs/benchmarks.md).
  const bool read_ahead = tick_budget_ >= kReadAheadBudget;
  const Status carried =
      old->started() ? kernel_.reload(options.tenant.tenant_id, run, read_ahead) : Status();
  if (!carried.ok()) {
    // The kernel could not hand the calls over: they are abandoned with the old execution,
    // as when a process stops (a side effect among them is then an unknown outcome).
    spdlog::warn("run={} reload could not keep its calls in flight: {}", run.str(),
                 carried.message());
  }
  // The old execution stops; its calls in flight go on until adopted, recorded or dropped.
  const bool in_flight = carried.ok() && old->drain();
  if (state != nullptr) *state = old->give_up_state();
  if (in_flight) draining_.push_back(std::move(old));
  return true;  // `old` goes now if nothing was kept in flight: its lua_State, tasks, calls
}

Status Host::reload(const kernel::RunId& run, const std::string& script_path) {
  if (auto parked = parked_.find(run.str()); parked != parked_.end()) {
    std::string previous = parked->second.script_path;
    if (!script_path.empty()) parked->second.script_path = script_path;
    Status restarted = restart(run.str());
    // Not started under the new script: it stays parked under the one it had.
    if (auto kept = parked_.find(run.str()); !restarted.ok() && kept != parked_.end())
      kept->second.script_path = std::move(previous);
    return restarted;
  }
  RunOptions options;
  std::string path;
  std::unique_ptr<PreparedState> state;
  std::optional<RunFacts> facts;
  if (auto live = runs_.find(run.str()); live != runs_.end())
    facts = live->second->hand_over_facts();
  if (!stop_keeping_calls(run, options, path, &state))
    return Status::not_found("run '{}' is not loaded here", run.str());
  Result<kernel::RunId> started =
      start_execution(script_path.empty() ? path : script_path, options, std::move(state));
  if (!started.ok()) {
    // The old execution is stopped and the new one could not be made (its script gone or
    // unreadable): the run is not lost. It waits suspended under its last script, its kernel
    // view and calls in flight kept, for a reload or resume_script that can start it.
    Parked parked;
    parked.options = std::move(options);
    parked.script_path = std::move(path);
    parked.outcome.run_id = run;
    parked.suspended = true;
    parked_[run.str()] = std::move(parked);
    return started.status();
  }
  // The new execution starts from what the old one knew, not from the run's record read
  // again (a reload of a thousand runs: a thousand reads fewer on the ticking thread).
  if (auto made = runs_.find(run.str()); made != runs_.end() && facts)
    made->second->take_facts(std::move(*facts));
  return Status();
}

size_t Host::reload_script(const std::string& script_path, ReloadListener listener) {
  auto shared = std::make_shared<ReloadListener>(std::move(listener));
  std::vector<kernel::RunId> runs;
  // Live runs only: one that completed, failed or was cancelled has nothing left to execute.
  const auto ended = kernel::run_ended;
  for (const auto& [id, run] : runs_)
    if (run->script_path() == script_path && !run->ended()) runs.emplace_back(id);
  for (const auto& [id, parked] : parked_)
    if (parked.script_path == script_path && !ended(parked.outcome.status)) runs.emplace_back(id);
  for (const kernel::RunId& run : runs) {
    // Reloaded again before its turn: one restart, under the latest text, told to the latest
    // listener. Restarted and not told yet: told once, after its next restart.
    auto [watch, fresh] = reload_watches_.try_emplace(run.str());
    const bool queued = !fresh && !watch->second.restarted;
    watch->second = ReloadWatch{shared, false};
    if (!queued) pending_restarts_.push_back(run);
  }
  return runs.size();
}

std::optional<kernel::RunStatus> Host::ended_status(const kernel::RunId& run) const {
  if (auto live = runs_.find(run.str()); live != runs_.end()) {
    const std::optional<RunOutcome>& ended = live->second->ended_outcome();
    if (ended) return ended->status;
    return std::nullopt;
  }
  auto parked = parked_.find(run.str());
  if (parked != parked_.end() && kernel::run_ended(parked->second.outcome.status))
    return parked->second.outcome.status;
  return std::nullopt;
}

void Host::restart_reloaded(std::chrono::steady_clock::time_point start,
                            std::chrono::steady_clock::time_point deadline) {
  // A restart stops the old execution and makes the new one (a state, the chunk): a few
  // hundred µs. Begun only when the time left covers what one has lately cost — and, while
  // other runs have work ready, only in the budget's first half, so a reload of a thousand
  // runs shares the frames with them. One a tick regardless when no tick could fit one (a
  // budget smaller than a restart still moves the reload).
  Schedule::SliceCost& cost = schedule_->restart;
  const auto planned = std::chrono::microseconds(static_cast<int64_t>(cost.planned_us()));
  const auto until = schedule_->nothing_ready() ? deadline : start + (deadline - start) / 2;
  for (bool first = true; !pending_restarts_.empty();) {
    const auto queued = reload_watches_.find(pending_restarts_.front().str());
    if (queued == reload_watches_.end() || queued->second.restarted) {
      pending_restarts_.pop_front();  // passed over (see pending_restarts_)
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    const bool fits = now + planned <= until;
    if (!fits && !(first && start + planned > deadline)) return;
    first = false;
    const kernel::RunId run = std::move(pending_restarts_.front());
    pending_restarts_.pop_front();
    if (const std::optional<kernel::RunStatus> ended = ended_status(run)) {
      // It ended under its old code before its turn (a cancel, its last step answered).
      kernel::Json detail = kernel::Json::object();
      detail.set("status", std::string(kernel::run_status_name(*ended)));
      tell_as(queued->second, run, ReloadOutcome::kEnded, std::move(detail));
      continue;
    }
    const Status restarted = reload(run);
    cost.add(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - now).count());
    // Found again: an event callback during the restart may have reloaded (the map grown).
    auto watch = reload_watches_.find(run.str());
    if (watch == reload_watches_.end()) continue;
    if (restarted.ok()) {
      watch->second.restarted = true;
      if (auto made = runs_.find(run.str()); made != runs_.end())
        made->second->schedule_marks().reload_watched = true;
      restarted_watches_.push_back(run);
      continue;
    }
    // Still here, its new execution could not start: told as halted with the error (the run
    // waits suspended, Host::reload).
    if (runs_.count(run.str()) != 0 || parked_.count(run.str()) != 0) {
      spdlog::warn("run={} was not reloaded: {}", run.str(), restarted.message());
      tell_as(watch->second, run, ReloadOutcome::kHaltedError, status_error_json(restarted));
      continue;
    }
    reload_watches_.erase(watch);
  }
}

void Host::tell_as(ReloadWatch& watch, const kernel::RunId& run, ReloadOutcome outcome,
                   kernel::Json detail) {
  // The listener hears of every run it reloaded, restarted or not: an application counting
  // reports for the runs reload_script counted is told of each (report_reloads). Marked
  // restarted: its place in pending_restarts_ is passed over.
  watch.told_as = ReloadReport{run, outcome, std::move(detail)};
  watch.restarted = true;
  reload_checks_.push_back(run);
}

void Host::tell_suspended(const kernel::RunId& run, bool replaying) {
  auto watch = reload_watches_.find(run.str());
  if (watch == reload_watches_.end() || watch->second.told_as) return;
  // A parked run restarted already is told its own outcome (report_reloads).
  if (watch->second.restarted && !replaying) return;
  tell_as(watch->second, run, ReloadOutcome::kSuspended, kernel::Json::object());
}

size_t Host::suspend_script(const std::string& script_path) {
  std::vector<kernel::RunId> runs;
  for (const auto& [id, run] : runs_)
    if (run->script_path() == script_path && !run->ended()) runs.emplace_back(id);
  // Every run of the script a reload counted is told: one suspended (or parked: it cannot
  // start while its script is gone) before it replayed hears so, and executes the text
  // loaded next (resume_script).
  for (const auto& [id, parked] : parked_)
    if (parked.script_path == script_path) tell_suspended(kernel::RunId(id), false);
  for (const kernel::RunId& run : runs) {
    tell_suspended(run, true);
    Parked parked;
    if (!stop_keeping_calls(run, parked.options, parked.script_path)) continue;
    parked.outcome.run_id = run;
    parked.suspended = true;
    parked_[run.str()] = std::move(parked);
  }
  return runs.size();
}

size_t Host::resume_script(const std::string& script_path) {
  std::vector<std::string> runs;
  for (const auto& [id, parked] : parked_)
    if (parked.suspended && parked.script_path == script_path) runs.push_back(id);
  size_t resumed = 0;
  for (const std::string& run : runs) {
    Status restarted = restart(run);
    if (restarted.ok()) {
      ++resumed;
    } else {
      spdlog::warn("run={} was not resumed: {}", run, restarted.message());
    }
  }
  return resumed;
}

std::optional<ReloadReport> Host::reload_report(const kernel::RunId& run) {
  std::optional<RunOutcome> ended;
  const ScriptRun* execution = nullptr;
  if (auto it = runs_.find(run.str()); it != runs_.end()) {
    ScriptRun& script = *it->second;
    // Forked: the execution goes on in the fork (the original keeps its steps ahead).
    if (!script.ended() && script.started()) {
      auto executing = kernel_.executing_run(script.tenant(), run);
      if (executing.ok() && *executing != run) {
        ReloadReport report{run, ReloadOutcome::kForked, kernel::Json::object()};
        report.detail.set("fork_run_id", executing->str());
        return report;
      }
    }
    if (!script.ended() && !script.caught_up()) return std::nullopt;  // still replaying
    execution = &script;
    ended = script.ended_outcome();
  } else if (auto parked = parked_.find(run.str()); parked != parked_.end()) {
    if (parked->second.suspended) return std::nullopt;
    ended = parked->second.outcome;
  } else {
    return std::nullopt;  // unloaded: nothing to tell
  }
  ReloadReport report;
  report.run = run;
  report.detail = kernel::Json::object();
  if (ended && ended->forked_from) {
    report.outcome = ReloadOutcome::kForked;
    report.detail.set("fork_run_id", ended->run_id.str());
    return report;
  }
  if (ended &&
      (ended->status == kernel::RunStatus::kNeedsAttention ||
       ended->status == kernel::RunStatus::kFailed) &&
      ended->error.is_object()) {
    const kernel::Json* kind = ended->error.find("kind");
    const bool drift = kind != nullptr && kind->is_string() &&
                       kind->as_string() == error_kind_name(ErrorKind::kReplayDrift);
    report.outcome = drift ? ReloadOutcome::kHaltedDrift : ReloadOutcome::kHaltedError;
    report.detail = ended->error;
    return report;
  }
  if (execution != nullptr) {
    if (!execution->first_drift().is_null()) {
      report.outcome = ReloadOutcome::kDriftAllowed;
      report.detail = execution->first_drift();
    }
  }
  return report;
}

void Host::note_reload_progress(ScriptRun& run) {
  if (run.schedule_marks().reload_watched) reload_checks_.push_back(run.run_id());
}

void Host::report_reloads() {
  if (reload_watches_.empty()) {
    restarted_watches_.clear();  // told, every one
    reload_checks_.clear();
    return;
  }
  std::vector<std::pair<ReloadReport, std::shared_ptr<ReloadListener>>> due;
  // Whether `run` is done with: its outcome told now (its watch goes), its watch gone (or
  // queued for another restart), or its run unloaded; false: later.
  auto told = [&](const kernel::RunId& run) {
    auto live = runs_.find(run.str());
    auto watch = reload_watches_.find(run.str());
    if (watch != reload_watches_.end() && watch->second.restarted) {
      std::optional<ReloadReport> report =
          watch->second.told_as ? std::move(watch->second.told_as) : reload_report(run);
      if (!report && (live != runs_.end() || parked_.count(run.str()))) return false;
      if (report) due.emplace_back(std::move(*report), std::move(watch->second.listener));
      reload_watches_.erase(watch);
    }
    if (live != runs_.end()) live->second->schedule_marks().reload_watched = false;
    return true;
  };
  std::vector<kernel::RunId> checks;
  checks.swap(reload_checks_);
  for (const kernel::RunId& run : checks) told(run);
  constexpr size_t kSweptPerTick = 4;
  for (size_t n = std::min(kSweptPerTick, restarted_watches_.size()); n > 0; --n) {
    kernel::RunId run = std::move(restarted_watches_.front());
    restarted_watches_.pop_front();
    if (!told(run)) restarted_watches_.push_back(std::move(run));
  }
  // After the sweep: a listener may reload again (changing reload_watches_).
  for (auto& [report, listener] : due) {
    try {
      if (*listener) (*listener)(report);
    } catch (const std::exception& e) {
      spdlog::error("run={} the reload listener threw: {}", report.run.str(), e.what());
    } catch (...) {
      spdlog::error("run={} the reload listener threw", report.run.str());
    }
  }
}

uint64_t Host::states_reused() const { return states_->reused(); }
uint64_t Host::states_recycled_off_thread() const { return states_->recycled_off_thread(); }
size_t Host::old_executions() const { return draining_.size() + held_drains_.size(); }

void Host::await_state(uint64_t ticket, ScriptRun& run) {
  awaiting_states_[ticket] = run.schedule_marks().serial;
}

void Host::forget_state(uint64_t ticket) {
  awaiting_states_.erase(ticket);
  states_->forget(ticket);
}

void Host::bind_recycled() {
  for (Recycled& recycled : states_->take_recycled()) {
    auto waiting = awaiting_states_.find(recycled.ticket);
    ScriptRun* run = waiting == awaiting_states_.end() ? nullptr : live_run(waiting->second);
    if (waiting != awaiting_states_.end()) awaiting_states_.erase(waiting);
    if (run == nullptr) {  // gone meanwhile (its destructor forgot the ticket: not here)
      if (recycled.state.ok()) states_->retire(std::move(recycled.state->lua));
      continue;
    }
    guarded(*run, [&] { run->bind_state(std::move(recycled)); });
    if (!run->has_ready()) may_have_stopped(*run);
  }
}

void Host::adopt(uint64_t ticket, ScriptRun& run, uint64_t task_id) {
  adoptions_[ticket] = Adoption{&run, task_id};
}

void Host::adopted_call_finished(uint64_t ticket, Result<kernel::Json> result) {
  auto it = adoptions_.find(ticket);
  if (it == adoptions_.end()) return;  // not adopted (yet): the result is recorded all the same
  const Adoption adoption = it->second;
  adoptions_.erase(it);
  release_held_drain(ticket);  // (the caller, the old execution, lives on in draining_)
  guarded(*adoption.run,
          [&] { adoption.run->adopted_call_ended(adoption.task_id, std::move(result)); });
}

void Host::forget_adoptions(const ScriptRun& run) {
  for (uint64_t ticket : run.adopted_tickets()) {
    auto it = adoptions_.find(ticket);
    if (it == adoptions_.end() || it->second.run != &run) continue;
    adoptions_.erase(it);
    release_held_drain(ticket);
  }
}

void Host::release_held_drain(uint64_t ticket) {
  if (closing_) return;  // ~Host: every execution is going
  auto held = held_drains_.find(ticket);
  if (held == held_drains_.end()) return;
  draining_.push_back(std::move(held->second));
  held_drains_.erase(held);
}

bool Host::drained(const ScriptRun& old, uint64_t* adopted) const {
  bool calls = false;
  *adopted = 0;
  // The new execution waits for one of them.
  const bool waited_for = old.call_adopted(
      [&](uint64_t ticket) {
        if (adoptions_.count(ticket) == 0) return false;
        *adopted = ticket;
        return true;
      },
      &calls);
  if (waited_for) return false;
  if (!calls) return true;
  auto successor = runs_.find(old.run_id().str());
  if (successor == runs_.end()) {
    // Suspended (suspend_script): kept until its calls are recorded. Else unloaded.
    auto parked = parked_.find(old.run_id().str());
    return parked == parked_.end() || !parked->second.suspended;
  }
  // Not idle while its state is being recycled: it has not begun to adopt.
  return !successor->second->has_ready() && !successor->second->awaiting_state();
}

void Host::drop_drained() {
  // A few a tick, in turn: a reload of a thousand runs with calls in flight leaves a thousand
  // old executions, and looking at each every tick cost a frame tens of µs. One that could go
  // stays a few ticks longer at most. One whose call a new execution adopted is held apart
  // until that adoption ends (release_held_drain): no tick looks at it meanwhile.
  constexpr size_t kChecksPerTick = 32;
  for (size_t n = std::min(kChecksPerTick, draining_.size()); n > 0; --n) {
    std::unique_ptr<ScriptRun> old = std::move(draining_.front());
    draining_.pop_front();
    uint64_t adopted = 0;
    if (drained(*old, &adopted)) continue;  // `old` goes
    if (adopted != 0) {
      held_drains_[adopted] = std::move(old);
    } else {
      draining_.push_back(std::move(old));  // its new execution has not settled yet
    }
  }
}

}  // namespace artana::host
