// ScriptRun's side of a hot reload (Host::reload): this execution stopped keeping its calls
// in flight, its state and the run's facts handed to the next execution, the recycled state
// bound to that one, and the calls an old execution made adopted.
#include "script_run.h"
#include "state_pool.h"

namespace artana::host {

using kernel::Json;

void ScriptRun::bind_state(Recycled recycled) {
  awaiting_state_ = 0;
  Status attached = recycled.state.ok() ? attach(std::move(*recycled.state), recycled.entry)
                                        : Status::internal("{}", recycled.state.status().message());
  if (attached.ok()) return;
  // Not recycled (or not attached): a fresh state, as a start makes one.
  if (!recycled.state.ok()) {
    Result<PreparedState> fresh = host_.states_->take();
    attached = fresh.ok() ? attach(std::move(*fresh), nullptr) : fresh.status();
    if (attached.ok()) return;
  }
  crashed("its state for the new execution could not be made: " + attached.message());
}

bool ScriptRun::drain() {
  draining_ = true;
  ready_.erase_if([](const Task* task) {
    return task->kind != TaskKind::kPort && task->kind != TaskKind::kTool;
  });
  bool any = false;
  call_adopted([](uint64_t) { return false; }, &any);
  return any;
}

std::optional<RunFacts> ScriptRun::hand_over_facts() {
  if (!started_ || outcome()) return std::nullopt;
  return RunFacts{run_id_, tenant_, std::move(input_), seed_};
}

std::unique_ptr<PreparedState> ScriptRun::give_up_state() {
  if (!draining_ || !lua_ || current_ != nullptr || lua_->killed()) return nullptr;
  for (const auto& task : tasks_) {
    const bool runs_lua = task->kind == TaskKind::kPort || task->kind == TaskKind::kTool;
    if (runs_lua && task->state != TaskState::kDone) return nullptr;
  }
  // Its threads are unanchored by the recycle: no task of this execution resumes again.
  for (const auto& task : tasks_) task->thread = nullptr;
  ready_.clear();
  auto state =
      std::make_unique<PreparedState>(PreparedState{std::move(lua_), api_, std::move(print_)});
  api_ = lua::ScriptApi{};
  return state;
}

std::vector<uint64_t> ScriptRun::adopted_tickets() const {
  std::vector<uint64_t> tickets;
  for (const auto& task : tasks_) {
    // Any task that ever waited for one (a stopped task's adoption may still be held).
    if (task->adopted_ticket != 0) tickets.push_back(task->adopted_ticket);
  }
  return tickets;
}

void ScriptRun::call_finished(Task& waiter, uint64_t ticket, Result<Json> result) {
  if (draining_) return host_.adopted_call_finished(ticket, std::move(result));
  if (waiter.stopping) return branch_ended(waiter, std::nullopt);
  if (!result.ok()) return resume_with_status(waiter, result.status(), waiter.wait_step_key);
  resume_with(waiter, *result);
}

lua::SyscallReply& ScriptRun::wait_adopted(Task& task, uint64_t ticket, const std::string& key,
                                           lua_State* L) {
  task.wait_step_key = key;
  ++live_work_;  // a call in flight for this run: its lease is kept
  task.adopted_ticket = ticket;
  host_.adopt(ticket, *this, task.id);
  return reply_wait(task, WaitKind::kAdopted, L);
}

void ScriptRun::adopted_call_ended(uint64_t task_id, Result<Json> result) {
  for (const auto& owned : tasks_) {
    Task& task = *owned;
    if (task.id != task_id || task.state != TaskState::kWaiting || task.wait != WaitKind::kAdopted)
      continue;
    --live_work_;
    if (task.stopping) return branch_ended(task, std::nullopt);
    if (!result.ok()) return resume_with_status(task, result.status(), task.wait_step_key);
    return resume_with(task, *result);
  }
}

}  // namespace artana::host
