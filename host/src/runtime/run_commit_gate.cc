// ScriptRun and pipelined commits: nothing of a run is seen outside before what it recorded
// is in the ledger (docs/lua_host.md, "Nothing is seen before it is in the ledger").
#include <spdlog/spdlog.h>

#include "error_json.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using lua::SyscallReply;

SyscallReply& ScriptRun::hold_reply(Task& task, SyscallReply& reply, lua_State* L) {
  // Its own reply object, kept for the task's next hold: the run's reply_ serves the next
  // syscall meanwhile.
  if (!task.held_reply) task.held_reply = std::make_unique<SyscallReply>();
  *task.held_reply = std::move(reply);
  task.start = StartKind::kHeldReply;
  return reply_wait(task, WaitKind::kCommit, L);
}

bool ScriptRun::gated() {
  if (commits_landed()) return false;
  if (!marks_.committing) host_.hold_for_commits(*this);
  return true;
}

bool ScriptRun::ready_to_settle() {
  if (gated()) return false;
  if (mark_ != nullptr && mark_->failed() && !commit_failed_) commit_failed();
  return in_ledger();
}

void ScriptRun::commits_landed_now() {
  if (mark_ != nullptr && mark_->failed()) return commit_failed();
  // Each start may record more (a native call answered at once): the next one waits again.
  while (!held_starts_.empty() && !gated()) {
    Task* task = held_starts_.front();
    held_starts_.erase(held_starts_.begin());
    if (task->state == TaskState::kWaiting) start_after_yield(*task);
  }
  if (!ready_.empty() && !marks_.queued && !marks_.committing) host_.run_ready(*this);
  host_.may_have_stopped(*this);
}

void ScriptRun::commit_failed() {
  held_starts_.clear();
  if (commit_failed_) return;
  commit_failed_ = true;
  // What this execution recorded last is not in the ledger: the run is as the ledger has it
  // (running, for a new execution once the cause is gone), whatever this one decided.
  Json error = status_error_json(mark_->failure());
  auto info = kernel_.run_info(run_id_);
  spdlog::error("run={} stops: {}", run_id_.str(), mark_->failure().message());
  end_with(info.ok() ? info->status : kernel::RunStatus::kRunning, Json(), std::move(error));
  host_.may_have_stopped(*this);
}

}  // namespace artana::host
