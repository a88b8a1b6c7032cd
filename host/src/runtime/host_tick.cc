// Host: the scheduler — tick() and what it works from (schedule.h). A tick delivers the
// completions that arrived (as many as the budget allows), wakes what is due on the timer
// heap, then gives the runs with a ready task one slice each in turn until none is ready or
// the budget is spent (a script's slice ends at the deadline: LuaState's count hook yields;
// a slice is not begun when the time left would not cover what one has lately cost). Runs that may
// have stopped are settled (a child's end to its parent) or parked at the end. The upkeep of
// executing runs (lease renewal, another process's cancel) comes due on its own heap, a run at a
// time. So a tick costs what is ready or due, never a walk over every run held.
#include <algorithm>
#include <chrono>

#include "artana/host/host.h"
#include "native_inbox.h"
#include "run_guard.h"
#include "schedule.h"
#include "script_run.h"

namespace artana::host {

namespace {

int64_t steady_us(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// How often an executing run's lease and cancel flag are looked at: well inside the lease
// (renewed every third of it) and soon enough that another process's cancel stops a long
// call within about a second.
int64_t upkeep_every_us(int64_t lease_ttl_us) {
  return std::clamp<int64_t>(lease_ttl_us / 6, 1'000, 1'000'000);
}

}  // namespace

uint64_t Host::register_run(ScriptRun& run) {
  const uint64_t serial = schedule_->next_serial++;
  schedule_->live.emplace(serial, &run);
  // The first upkeep half to one interval away, spread by serial: a thousand runs started in
  // one burst do not all come due in the same tick ever after.
  const int64_t every = upkeep_every_us(kernel_.lease_ttl_us());
  const int64_t spread =
      static_cast<int64_t>((serial * 40503u) % static_cast<uint64_t>(every / 2 + 1));
  const int64_t due = steady_us(std::chrono::steady_clock::now()) + every / 2 + spread;
  schedule_->upkeep.push(TimerEntry{due, serial, {}});
  return serial;
}

void Host::unregister_run(ScriptRun& run) {
  ScriptRun::ScheduleMarks& marks = run.schedule_marks();
  schedule_->live.erase(marks.serial);
  if (marks.queued) {  // rare: a run destroyed while ready
    std::erase(schedule_->ready, &run);
    std::erase(schedule_->starting, &run);
  }
  marks.queued = false;
}

ScriptRun* Host::live_run(uint64_t serial) const {
  auto it = schedule_->live.find(serial);
  return it == schedule_->live.end() ? nullptr : it->second;
}

void Host::run_ready(ScriptRun& run) {
  run.schedule_marks().queued = true;
  (run.started() ? schedule_->ready : schedule_->starting).push_back(&run);
}

void Host::arm_timer(ScriptRun& run, int64_t due_us) {
  ScriptRun::ScheduleMarks& marks = run.schedule_marks();
  if (marks.armed_due && *marks.armed_due <= due_us) return;  // woken earlier anyway
  marks.armed_due = due_us;
  schedule_->timers.push(TimerEntry{due_us, marks.serial, {}});
}

void Host::may_have_stopped(ScriptRun& run) {
  note_reload_progress(run);
  ScriptRun::ScheduleMarks& marks = run.schedule_marks();
  if (marks.stopping) return;
  marks.stopping = true;
  schedule_->stopping.push_back(marks.serial);
}

void Host::hold_for_commits(ScriptRun& run) {
  run.schedule_marks().committing = true;
  schedule_->committing.push_back(run.schedule_marks().serial);
}

void Host::release_landed() {
  if (!commits_landed_.exchange(false, std::memory_order_acq_rel)) return;
  std::vector<uint64_t> held;
  held.swap(schedule_->committing);
  for (uint64_t serial : held) {
    ScriptRun* run = live_run(serial);
    if (run == nullptr) continue;
    if (!run->commits_landed()) {
      schedule_->committing.push_back(serial);  // still on its way
      continue;
    }
    run->schedule_marks().committing = false;
    guarded(*run, [&] { run->commits_landed_now(); });
  }
}

bool Host::nothing_to_do(int64_t now_us, int64_t steady_now_us) const {
  const Schedule& s = *schedule_;
  return s.nothing_ready() && !completions_waiting(s, *native_) && http_waiters_.empty() &&
         !commits_landed_.load(std::memory_order_acquire) && !s.timers.due(now_us) &&
         !s.upkeep.due(steady_now_us) && s.stopping.empty() && !children_to_spawn_ &&
         draining_.empty() && reload_watches_.empty() && pending_restarts_.empty() &&
         !states_->recycled_ready() && !states_->has_outbox();
}

void Host::wake_due_timers(int64_t now_us) {
  while (schedule_->timers.due(now_us)) {
    TimerEntry entry = schedule_->timers.pop();
    if (entry.serial == 0) {  // a parked run sleeping: executed again to wake its task
      auto parked = parked_.find(entry.parked_run);
      if (parked == parked_.end() || parked->second.wake_us != entry.due) continue;
      if (restart(entry.parked_run).ok()) continue;
      // Its script does not load now (restart parked it again): tried again a second later,
      // not in every tick.
      parked = parked_.find(entry.parked_run);
      if (parked == parked_.end()) continue;
      parked->second.wake_us = now_us + 1'000'000;
      schedule_->timers.push(TimerEntry{now_us + 1'000'000, 0, entry.parked_run});
      continue;
    }
    ScriptRun* run = live_run(entry.serial);
    if (run == nullptr) continue;
    ScriptRun::ScheduleMarks& marks = run->schedule_marks();
    if (marks.armed_due != entry.due) continue;  // superseded by an earlier one
    marks.armed_due.reset();
    std::optional<int64_t> next;
    guarded(*run, [&] { next = run->wake_timers(now_us); });
    if (next) arm_timer(*run, *next);
  }
}

void Host::run_slices(std::chrono::steady_clock::time_point deadline, TickResult& result,
                      bool progressed) {
  // A slice cannot be cut short outside Lua (a commit, the application's callback), so one
  // begun just before the deadline overruns it by what it costs. So a slice is begun only
  // when the time left covers what such a slice has lately cost. Starts and steps cost apart
  // and wait apart: when a start no longer fits, the steps behind it still go (a thousand new
  // runs queued first once starved every step behind them), and while both fit they take
  // turns. The first slice of a tick is begun whatever it costs (a budget smaller than any
  // slice still makes progress) — unless the tick has made progress already (completions
  // delivered) and the last tick did begin one: a slice forced past a deadline the
  // completions spent was a frame's overrun.
  Schedule& s = *schedule_;
  const bool force_first = !progressed || s.slice_owed;
  bool start_next = false;  // whose turn it is when both may go
  while (!s.nothing_ready()) {
    const auto now = std::chrono::steady_clock::now();
    auto fits = [&](const Schedule::SliceCost& cost) {
      return now + std::chrono::microseconds(static_cast<int64_t>(cost.planned_us())) <= deadline;
    };
    const bool first = result.resumed == 0 && force_first;  // goes whatever it costs
    const bool starts_fit = !s.starting.empty() && (first || fits(s.start_slice));
    const bool steps_fit = !s.ready.empty() && (first || fits(s.step_slice));
    if (!starts_fit && !steps_fit) break;
    const bool starting = starts_fit && (!steps_fit || start_next);
    start_next = !starting;
    std::deque<ScriptRun*>& queue = starting ? s.starting : s.ready;
    Schedule::SliceCost& cost = starting ? s.start_slice : s.step_slice;
    ScriptRun* run = queue.front();
    queue.pop_front();
    const uint64_t serial = run->schedule_marks().serial;
    run->schedule_marks().queued = false;
    guarded(*run, [&] { run->run_one(deadline); });
    ++result.resumed;
    cost.add(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - now).count());
    // A native callback may have unloaded it (artana_script_unload inside a callback).
    if (live_run(serial) == run) {
      if (run->has_ready()) {
        note_reload_progress(*run);  // (may_have_stopped notes the others)
        if (!run->schedule_marks().queued) run_ready(*run);
      } else {
        may_have_stopped(*run);
      }
    }
    // A native call answered meanwhile (inside its callback, or by another thread): its
    // step goes on in this tick.
    if (completions_waiting(s, *native_)) deliver_completions(deadline);
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  s.slice_owed = result.resumed == 0 && !s.nothing_ready();
}

void Host::keep_runs(std::chrono::steady_clock::time_point deadline) {
  // Leases are not optional: kMinUpkeep runs a tick are kept even when the budget is spent
  // (completions delivered first took it), more while it lasts. Each comes due once per
  // upkeep interval — a sixth of the lease, renewed at a third — so one a tick keeps up with
  // any burst long before a lease is at risk, and a frame never pays for a crowd of them.
  constexpr int kMinUpkeep = 2;
  const int64_t every = upkeep_every_us(kernel_.lease_ttl_us());
  for (int kept = 0;; ++kept) {
    const auto now = std::chrono::steady_clock::now();
    const int64_t now_us = steady_us(now);
    if (!schedule_->upkeep.due(now_us) || (kept >= kMinUpkeep && now >= deadline)) return;
    TimerEntry entry = schedule_->upkeep.pop();
    ScriptRun* run = live_run(entry.serial);
    if (run == nullptr) continue;  // gone: its entry goes with it
    guarded(*run, [&] {
      run->watch_cancel();
      run->keep_lease(now);
    });
    if (run->ended()) {
      may_have_stopped(*run);
    } else {
      // Due again an interval after it was due, not after it was kept: runs kept together
      // late (behind a tick whose budget was spent) keep their own phases instead of coming
      // due together ever after — 70–90 renewals in one frame, 0.4 ms of it. One that fell a
      // whole interval behind starts again from now.
      const int64_t next = entry.due + every > now_us ? entry.due + every : now_us + every;
      schedule_->upkeep.push(TimerEntry{next, entry.serial, {}});
    }
  }
}

void Host::park(ScriptRun& run, RunOutcome outcome) {
  Parked parked;
  parked.script_path = run.script_path();
  parked.options = run.options();
  parked.options.run_id = run.run_id();
  parked.options.tenant.tenant_id = run.tenant();
  parked.outcome = std::move(outcome);
  parked.wake_us = run.next_timer();
  const std::string id = run.run_id().str();
  if (parked.wake_us) schedule_->timers.push(TimerEntry{*parked.wake_us, 0, id});
  parked_[id] = std::move(parked);
  runs_.erase(id);  // `run` goes
}

void Host::settle_stopped(std::chrono::steady_clock::time_point deadline) {
  // Most are runs waiting for a call (nothing to do); parking one costs a few µs (its
  // lua_State is closed by the reaper). Past the budget a few a tick still are — more than
  // runs stop in a tick, so the list never grows without end, and few enough that a tick
  // ending at its deadline is not held up by them (64 were 0.3–0.5 ms); the rest wait.
  constexpr size_t kMinSettled = 16;
  Schedule& s = *schedule_;
  size_t settled = 0;
  while (settled < s.stopping.size() &&
         (settled < kMinSettled || std::chrono::steady_clock::now() < deadline)) {
    ScriptRun* run = live_run(s.stopping[settled++]);
    if (run == nullptr) continue;
    run->schedule_marks().stopping = false;
    if (run->has_ready()) continue;         // it goes on
    if (!run->ready_to_settle()) continue;  // settled once what it recorded is in the ledger
    std::optional<RunOutcome> outcome = run->outcome();
    if (!outcome) continue;
    const std::string id = run->run_id().str();
    auto held = runs_.find(id);
    if (held == runs_.end() || held->second.get() != run) continue;  // an old execution
    if (settle_child(id, *outcome)) continue;
    if (options_.park_idle_runs && run->started()) park(*run, std::move(*outcome));
  }
  // Settling may have noted more (a parent's end): they stay behind the ones not reached.
  s.stopping.erase(s.stopping.begin(), s.stopping.begin() + static_cast<std::ptrdiff_t>(settled));
}

TickResult Host::tick(std::chrono::microseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + budget;
  TickResult result;
  const int64_t now = now_us();
  if (nothing_to_do(now, steady_us(start))) {
    result.next_timer_us = schedule_->timers.next();
    result.in_flight = in_flight();
    return result;
  }
  tick_budget_ = budget;
  release_landed();  // first: runs whose steps are in the ledger go on
  const size_t delivered = deliver_completions(deadline);  // then results waiting
  if (children_to_spawn_) spawn_children();
  wake_due_timers(now);
  keep_runs(deadline);
  if (!pending_restarts_.empty()) restart_reloaded(start, deadline);
  if (states_->has_outbox()) states_->hand_over();  // what the pool's lock kept out last time
  if (states_->recycled_ready()) bind_recycled();
  run_slices(deadline, result, delivered > 0);
  // The summaries the runs recorded this tick share one commit, now: others see them.
  kernel_.flush();
  drop_drained();
  report_reloads();
  settle_stopped(deadline);
  tick_budget_ = std::chrono::microseconds::max();
  // A run waiting for its recycled state has work as soon as the pool hands it back: left,
  // so an application ticks again rather than sleeping until its next timer.
  result.ready = schedule_->ready.size() + schedule_->starting.size() + awaiting_states_.size();
  result.more_ready = !idle();
  result.next_timer_us = schedule_->timers.next();
  result.in_flight = in_flight();
  return result;
}

bool Host::idle() const {
  return schedule_->nothing_ready() && !completions_waiting(*schedule_, *native_) &&
         pending_restarts_.empty() && awaiting_states_.empty() && !children_to_spawn_ &&
         !commits_landed_.load(std::memory_order_acquire);
}

}  // namespace artana::host
