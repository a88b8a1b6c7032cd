// Syscalls that shape the flow of a run: run:pause, run:sleep, run:scope, run:parallel.
#include <algorithm>
#include <cmath>

#include "artana/lua/syscall_args.h"
#include "artana/lua/thread_calls.h"
#include "error_json.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using lua::SyscallOp;
using lua::SyscallReply;

SyscallReply& ScriptRun::sys_pause(lua_State* L, Task& task) {
  auto args = lua::decode_pause(L);
  if (!args.ok()) return reply_error(args.status());
  auto key = claim_key(L, task, "pause", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  auto paused = kernel_.pause(tenant_, run_id_, *key, args->reason, args->context);
  if (!paused.ok()) return reply_error(paused.status(), *key);
  if (!paused->paused) return reply_value(std::move(paused->input));
  task.wait_step_key = *key;
  task.pause_reason = std::move(args->reason);
  task.pause_context = std::move(args->context);
  return reply_wait(task, WaitKind::kPause, L);
}

void ScriptRun::pauses_resumed() {
  for (const auto& task : tasks_) {
    if (task->state != TaskState::kWaiting || task->wait != WaitKind::kPause) continue;
    auto paused = kernel_.pause(tenant_, run_id_, task->wait_step_key, task->pause_reason,
                                task->pause_context);
    if (!paused.ok()) {
      resume_with_status(*task, paused.status(), task->wait_step_key);
    } else if (!paused->paused) {
      resume_with(*task, paused->input);
    }
  }
}

SyscallReply& ScriptRun::sys_sleep(lua_State* L, Task& task) {
  auto args = lua::decode_sleep(L);
  if (!args.ok()) return reply_error(args.status());
  const double seconds = args->seconds;
  auto key = claim_key(L, task, "sleep", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  const auto duration_us = static_cast<int64_t>(std::llround(seconds * 1e6));
  auto slept = kernel_.sleep(tenant_, run_id_, *key, duration_us, host_.now_us());
  if (!slept.ok()) return reply_error(slept.status(), *key);
  if (slept->done) return reply_;
  task.wait_step_key = *key;
  task.due_us = slept->due_at_us;
  host_.arm_timer(*this, task.due_us);
  return reply_wait(task, WaitKind::kSleep, L);
}

std::optional<int64_t> ScriptRun::next_timer() const {
  std::optional<int64_t> next;
  for (const auto& task : tasks_) {
    const bool timer = task->wait == WaitKind::kSleep ||
                       (task->wait == WaitKind::kChild && task->due_us > 0);  // a sleeping child
    if (task->state == TaskState::kWaiting && timer && (!next || task->due_us < *next))
      next = task->due_us;
  }
  return next;
}

std::optional<int64_t> ScriptRun::wake_timers(int64_t now_us) {
  std::optional<int64_t> next;
  for (const auto& task : tasks_) {
    if (task->state == TaskState::kWaiting && task->wait == WaitKind::kChild && task->due_us > 0) {
      if (task->due_us <= now_us) {
        respawn_children();  // its timer is due: the child wakes as it executes again
      } else if (!next || task->due_us < *next) {
        next = task->due_us;
      }
      continue;
    }
    if (task->state != TaskState::kWaiting || task->wait != WaitKind::kSleep) continue;
    if (task->due_us > now_us) {
      if (!next || task->due_us < *next) next = task->due_us;
      continue;
    }
    auto slept = kernel_.sleep(tenant_, run_id_, task->wait_step_key, 0, now_us);
    if (!slept.ok()) {
      resume_with_status(*task, slept.status(), task->wait_step_key);
    } else if (slept->done) {
      resume_with(*task, Json());
    } else {
      // Not due by the ledger's time: woken again then (a millisecond on at least, so a
      // clock that disagrees cannot make the host spin).
      task->due_us = std::max(slept->due_at_us, now_us + 1000);
      if (!next || task->due_us < *next) next = task->due_us;
    }
  }
  return next;
}

SyscallReply& ScriptRun::sys_scope(lua_State* L, Task& task, SyscallOp op) {
  if (op == SyscallOp::kScopeExit) {
    task.scopes.exit();
    return reply_;
  }
  auto name = lua::decode_scope_name(L);
  if (!name.ok()) return reply_error(name.status());
  Status valid = check_scope_name(*name);
  if (!valid.ok()) return reply_error(valid);
  task.scopes.enter(*name);
  return reply_;
}

// Arguments: run, names (array of strings), fns (array of functions), max or nil.
SyscallReply& ScriptRun::sys_parallel(lua_State* L, Task& task) {
  auto args = lua::decode_parallel(L);
  if (!args.ok()) return reply_error(args.status());
  for (const std::string& name : args->names) {
    Status valid = check_scope_name(name);
    if (!valid.ok()) return reply_error(valid);
  }
  if (args->names.empty()) return reply_value(Json::array());
  // Hand the run object and the functions to the host: moved onto the main thread now,
  // referenced after the yield (start_parallel).
  Status handed = lua::hand_over_parallel(L, lua_->state());
  if (!handed.ok()) return reply_error(handed);
  task.start = StartKind::kParallel;
  task.branch_names = std::move(args->names);
  task.max_concurrency = args->max_concurrency;
  return reply_wait(task, WaitKind::kParallel, L);
}

void ScriptRun::start_parallel(Task& parent) {
  auto group = std::make_shared<ParallelGroup>();
  int refs[2];
  lua::take_refs(lua_->state(), 2, refs);
  if (refs[0] == lua::kNoRef || refs[1] == lua::kNoRef) return killed();
  group->run_ref = refs[0];
  group->fns_ref = refs[1];
  group->parent = &parent;
  group->names = std::move(parent.branch_names);
  group->base_path = parent.scopes.path();
  group->branches.assign(group->names.size(), nullptr);
  group->finished.assign(group->names.size(), false);
  group->max_concurrency = parent.max_concurrency;
  parent.group_waited = group;
  start_branches(*group);
}

void ScriptRun::start_branches(ParallelGroup& group) {
  while (!group.failing && group.next_to_start < group.names.size() &&
         (group.max_concurrency == 0 || group.running < group.max_concurrency)) {
    const size_t index = group.next_to_start++;
    lua_State* thread = lua_->new_thread();
    if (thread == nullptr) return killed();
    auto args =
        lua::prepare_call(lua_->state(), thread, api_.call, group.fns_ref, {}, {},
                          static_cast<int>(index) + 1, {lua::CallArg{group.run_ref, nullptr}});
    if (!args.ok()) return killed();
    const std::string& base = group.base_path;
    const std::string& name = group.names[index];
    Task* branch = new_task(TaskKind::kBranch, thread);
    branch->scopes = ScopeStack(base.empty() ? name : base + "/" + name);
    branch->group = group.parent->group_waited;
    branch->branch_index = index;
    group.branches[index] = branch;
    ++group.running;
    make_ready(*branch, *args);
  }
}

void ScriptRun::branch_ended(Task& branch, std::optional<Json> error) {
  std::shared_ptr<ParallelGroup> group = branch.group;
  const size_t index = branch.branch_index;
  group->finished[index] = true;
  --group->running;
  branch.state = TaskState::kDone;
  if (error) {
    if (!group->failed_index || index < *group->failed_index) {
      group->failed_index = index;
      group->failed_error = std::move(*error);
    }
    group->failing = true;
    // Branches after this one stop at their next syscall (those parked at one stop now);
    // branches before it run on: whether they fail too decides which error is raised, and
    // that must not depend on timing (a replay answers their steps at once).
    {
      for (Task* sibling : group->branches) {
        if (sibling == nullptr || sibling->state == TaskState::kDone) continue;
        if (sibling->branch_index < index || sibling->stopping) continue;
        sibling->stopping = true;
        if (sibling->state == TaskState::kWaiting &&
            (sibling->wait == WaitKind::kPause || sibling->wait == WaitKind::kSleep)) {
          sibling->state = TaskState::kDone;
          group->finished[sibling->branch_index] = true;
          --group->running;
        }
      }
    }
  }
  if (group->failing) {
    if (group->running == 0) finish_group(*group);
    return;
  }
  start_branches(*group);
  if (group->running == 0 && group->next_to_start == group->names.size()) finish_group(*group);
}

void ScriptRun::finish_group(ParallelGroup& group) {
  Task& parent = *group.parent;
  parent.group_waited.reset();  // group stays alive through the branches' shared_ptr
  if (group.failing) {
    const Json error = group.failed_index ? group.failed_error : Json::object();
    for (Task* branch : group.branches)
      if (branch != nullptr && branch->thread != nullptr) finish_task(*branch);
    lua::release_ref(lua_->state(), group.fns_ref);
    lua::release_ref(lua_->state(), group.run_ref);
    lua::BoundaryError relayed = boundary_from_json(error);
    relayed.relayed = true;  // the branch's own error, raised again in the parent
    return resume_with_error(parent, relayed);
  }
  std::vector<lua_State*> results;
  for (Task* branch : group.branches) results.push_back(branch->thread);
  const int n = lua::push_results_array(lua_->state(), parent.thread, results);
  for (Task* branch : group.branches) finish_task(*branch);
  lua::release_ref(lua_->state(), group.fns_ref);
  lua::release_ref(lua_->state(), group.run_ref);
  if (n < 0) return killed();
  make_ready(parent, n);
}

}  // namespace artana::host
