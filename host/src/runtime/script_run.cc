// ScriptRun's core: creating the state, resuming tasks, and routing syscalls.
#include "script_run.h"

#include <lua.hpp>

#include <spdlog/spdlog.h>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/fault_points.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/thread_calls.h"
#include "error_json.h"
#include "state_pool.h"

namespace artana::host {

using kernel::Json;
using lua::SyscallOp;
using lua::SyscallReply;

ScriptRun::ScriptRun(Host& host, ScriptSource script, RunOptions options)
    : host_(host),
      kernel_(host.kernel()),
      script_(std::move(script)),
      options_(std::move(options)) {
  marks_.serial = host_.register_run(*this);
}

ScriptRun::~ScriptRun() {
  if (awaiting_state_ != 0) host_.forget_state(awaiting_state_);
  host_.unregister_run(*this);
  host_.forget_adoptions(*this);
  host_.forget_http(*this);    // its requests in flight are cancelled
  host_.forget_native(*this);  // and its native calls
  host_.forget_children(*this);
  // Its lua_State (every thread of it) is closed on the pool's thread: nothing runs there.
  host_.states_->retire(std::move(lua_));
}

Result<std::unique_ptr<ScriptRun>> ScriptRun::create(Host& host, ScriptSource script,
                                                     RunOptions options,
                                                     std::unique_ptr<PreparedState> reused) {
  std::unique_ptr<ScriptRun> run(new ScriptRun(host, std::move(script), std::move(options)));
  if (reused) {
    // Readied on the pool's thread; the run waits for it (bind_state), busy meanwhile.
    const SourceFile& entry = run->script_.entry();
    run->awaiting_state_ =
        host.states_->recycle_later(reused, EntryChunk{entry.text, entry.chunkname});
    if (run->awaiting_state_ != 0) {
      host.await_state(run->awaiting_state_, *run);
      return run;
    }
  }
  ARTANA_ASSIGN_OR_RETURN(PreparedState prepared,
                          reused ? host.states_->reuse(std::move(*reused)) : host.states_->take());
  ARTANA_RETURN_IF_ERROR(run->attach(std::move(prepared), nullptr));
  return run;
}

Status ScriptRun::attach(PreparedState prepared, lua_State* entry_thread) {
  *prepared.print = [this](std::string_view line) {
    const auto& sink = host_.options().print_sink;
    if (sink) {
      sink(run_id_, line);
    } else {
      // Escaped: a script's print cannot forge a log line or send terminal escapes.
      spdlog::info("[{}] {}", run_id_.str(), kernel::one_line_text(line));
    }
  };
  lua_ = std::move(prepared.lua);
  api_ = prepared.api;
  print_ = std::move(prepared.print);
  lua_->set_handler(this);
  lua_State* thread = entry_thread;
  if (thread == nullptr) {
    ARTANA_ASSIGN_OR_RETURN(
        thread, prepare_entry(*lua_, api_.boot, script_.entry().text, script_.entry().chunkname));
  }
  Task* entry = new_task(TaskKind::kEntry, thread);
  make_ready(*entry, 1);
  return Status();
}

Task* ScriptRun::new_task(TaskKind kind, lua_State* thread) {
  auto task = std::make_unique<Task>();
  task->id = next_task_id_++;
  task->kind = kind;
  task->thread = thread;
  tasks_.push_back(std::move(task));
  return tasks_.back().get();
}

void ScriptRun::make_ready(Task& task, int resume_args) {
  task.state = TaskState::kReady;
  task.wait = WaitKind::kNone;
  task.resume_args = resume_args;
  ready_.push_back(&task);
  if (!marks_.queued) host_.run_ready(*this);
}

void ScriptRun::resume_with(Task& task, const Json& value) {
  const int n = lua::push_resume_values(lua_->state(), task.thread, &value, nullptr);
  if (n < 0) return killed();
  make_ready(task, n);
}

void ScriptRun::resume_with_error(Task& task, const lua::BoundaryError& error) {
  lua::BoundaryError located = error;
  if (located.where[0] == '\0' && task.caller != nullptr)
    lua::write_where(task.caller, 0, located.where, sizeof located.where);
  const int n = lua::push_resume_values(lua_->state(), task.thread, nullptr, &located);
  if (n < 0) return killed();
  make_ready(task, n);
}

void ScriptRun::resume_with_status(Task& task, const Status& status, const std::string& step_key) {
  resume_with_error(task, lua::BoundaryError::from(status, step_key));
}

void ScriptRun::run_one(std::chrono::steady_clock::time_point deadline) {
  if (ended_) ready_.clear();
  if (ready_.empty() || gated()) return;
  Task& task = *ready_.front();
  ready_.pop_front();
  if (task.state != TaskState::kReady) return;
  if (draining_ && task.kind != TaskKind::kPort && task.kind != TaskKind::kTool) return;
  current_ = &task;
  lua_->clear_slice_flag();
  lua_->set_slice_deadline(deadline);
  int nresults = 0;
  const int status = lua_resume(task.thread, lua_->state(), task.resume_args, &nresults);
  task.resume_args = 0;
  current_ = nullptr;
  if (lua_->killed()) return killed();
  if (status == LUA_YIELD) {
    if (lua_->yielded_for_slice()) {
      lua_pop(task.thread, nresults);
      return make_ready(task, 0);
    }
    const bool syscall = lua::is_syscall_yield(task.thread, nresults);
    lua_pop(task.thread, nresults);
    if (syscall) return after_yield(task);
    // coroutine.yield() at the top of a host thread: nothing would ever resume it.
    lua::BoundaryError error = lua::BoundaryError::make(
        error_kind_name(ErrorKind::kScriptError),
        "coroutine.yield called outside a coroutine (in the entry, a branch, a "
        "tool or a model port)");
    lua::write_where(task.thread, 0, error.where, sizeof error.where);
    // Built under protection: the script may have filled its heap to the limit first.
    if (lua::push_resume_values(lua_->state(), task.thread, nullptr, &error) < 0) return killed();
    return task_raised(task);
  }
  if (status == LUA_OK) return task_returned(task, nresults);
  task_raised(task);
}

void ScriptRun::after_yield(Task& task) {
  task.state = TaskState::kWaiting;
  if (task.stopping && task.kind == TaskKind::kBranch) return branch_ended(task, std::nullopt);
  // A call or a side effect starts once the step's request is in the ledger; the entry's
  // start has nothing recorded before it.
  if (task.start != StartKind::kNone && task.start != StartKind::kReady && gated()) {
    held_starts_.push_back(&task);
    return;
  }
  start_after_yield(task);
}

void ScriptRun::start_after_yield(Task& task) {
  const StartKind start = task.start;
  task.start = StartKind::kNone;
  switch (start) {
    case StartKind::kReady:
      return start_entry(task);
    case StartKind::kModelPort:
      return start_model_port(task);
    case StartKind::kNativeModel:
      return start_native_model(task);
    case StartKind::kHttpModel:
      return start_http_model(task);
    case StartKind::kTool:
      return start_tool(task);
    case StartKind::kParallel:
      return start_parallel(task);
    case StartKind::kHeldReply: {
      const int n = lua::push_held_reply(task.thread, task.held_reply.get());
      if (n < 0) return killed();
      return make_ready(task, n);
    }
    case StartKind::kNone:
      return;
  }
}

void ScriptRun::task_returned(Task& task, int nresults) {
  switch (task.kind) {
    case TaskKind::kEntry:
      return entry_returned(task, nresults);
    case TaskKind::kBranch:
      // Keep exactly the first result on the thread for finish_group to collect.
      if (nresults == 0) {
        lua_pushnil(task.thread);  // a finished thread keeps LUA_MINSTACK free slots
      } else if (nresults > 1) {
        lua_pop(task.thread, nresults - 1);
      }
      return branch_ended(task, std::nullopt);
    case TaskKind::kPort:
      return port_returned(task, nresults);
    case TaskKind::kTool:
      return tool_returned(task, nresults);
  }
}

void ScriptRun::task_raised(Task& task) {
  switch (task.kind) {
    case TaskKind::kEntry:
      return entry_raised(task, error_json(task.thread, -1));
    case TaskKind::kBranch:
      return branch_ended(task, error_json(task.thread, -1));
    case TaskKind::kPort:
      return port_raised(task);
    case TaskKind::kTool:
      return tool_raised(task);
  }
}

void ScriptRun::finish_task(Task& task) {
  task.state = TaskState::kDone;
  if (lua_ && task.thread != nullptr) lua_->release_thread(task.thread);
  task.thread = nullptr;
}

Json ScriptRun::error_json(lua_State* thread, int index) {
  lua::BoundaryError error = lua::read_error(thread, index);
  // A table raised with error() got no message handler: its stack still says where.
  if (error.where[0] == '\0') lua::write_where(thread, 0, error.where, sizeof error.where);
  return boundary_error_json(error, lua::traceback_of(lua_->state(), thread));
}

// ---- syscall routing ----

SyscallReply& ScriptRun::handle(lua_State* L, SyscallOp op) {
  SyscallReply& reply = route(L, op);
  // A slice starts with every append landed (run_one), so appends pending now are this
  // syscall's: the script sees its answer once they are in the ledger.
  if (reply.kind == SyscallReply::Kind::kWait || commits_landed() || current_ == nullptr)
    return reply;
  return hold_reply(*current_, reply, L);
}

SyscallReply& ScriptRun::route(lua_State* L, SyscallOp op) {
  reply_.kind = SyscallReply::Kind::kNothing;
  if (op < SyscallOp::kReady) kernel::fault_point("syscall");
  if (op == SyscallOp::kReady) return sys_ready(L);
  if (op == SyscallOp::kLoadModule) return sys_require(L);
  Task* task = syscall_task(op);
  if (task == nullptr) return reply_;
  if (task->stopping) return reply_wait(*task, WaitKind::kNone, L);  // never resumed
  switch (op) {
    case SyscallOp::kModel:
      return sys_model(L, *task);
    case SyscallOp::kTool:
      return sys_tool(L, *task);
    case SyscallOp::kPause:
      return sys_pause(L, *task);
    case SyscallOp::kSleep:
      return sys_sleep(L, *task);
    case SyscallOp::kNow:
      return sys_now(L, *task);
    case SyscallOp::kRandom:
      return sys_random(L, *task);
    case SyscallOp::kMemory:
      return sys_memory(L, *task);
    case SyscallOp::kChild:
      return sys_child(L, *task);
    case SyscallOp::kSummary:
      return sys_summary(L, *task);
    case SyscallOp::kLookup:
      return sys_lookup(L, *task);
    case SyscallOp::kArtifact:
      return sys_artifact(L, *task);
    case SyscallOp::kVersion:
      return sys_version(L, *task);
    case SyscallOp::kReplaying:
      return sys_replaying(L, *task);
    case SyscallOp::kRunId:
      return sys_run_id(L, *task);
    case SyscallOp::kStepBegin:
    case SyscallOp::kStepEnd:
    case SyscallOp::kStepAbort:
      return sys_step(L, *task, op);
    case SyscallOp::kScopeEnter:
    case SyscallOp::kScopeExit:
      return sys_scope(L, *task, op);
    case SyscallOp::kParallel:
      return sys_parallel(L, *task);
    default:
      return reply_error(ErrorKind::kInternal, "unknown syscall");
  }
}

Task* ScriptRun::syscall_task(SyscallOp op) {
  Task* task = current_;
  // Built only for an error: this runs on every syscall, replayed ones included.
  auto name = [op] { return "run:" + std::string(lua::syscall_name(op)); };
  if (task == nullptr || !started_) {
    reply_error(ErrorKind::kInvalidArgument,
                name() + " is only available once the entry function runs");
    return nullptr;
  }
  if (task->kind == TaskKind::kPort || task->kind == TaskKind::kTool) {
    reply_error(ErrorKind::kSandboxViolation,
                name() + " cannot be called inside a " +
                    (task->kind == TaskKind::kPort ? "model port" : "tool") +
                    ": ports and tools answer one step; they do not make steps of their own");
    return nullptr;
  }
  const bool step_op = op == SyscallOp::kStepEnd || op == SyscallOp::kStepAbort;
  if (task->in_step && !step_op) {
    reply_error(ErrorKind::kSandboxViolation,
                name() + " inside run:step('" + task->step_key +
                    "'): a step's function is a pure computation, recorded once; group "
                    "syscalls with run:scope instead");
    return nullptr;
  }
  return task;
}

Result<std::string> ScriptRun::claim_key(lua_State* L, Task& task, std::string_view kind,
                                         std::optional<std::string_view> explicit_key) {
  return keys_.claim(task.scopes.path(), kind, explicit_key, [L] {
    char where[256] = {};
    lua::write_where(L, 0, where, sizeof where);
    return std::string(where);
  });
}

SyscallReply& ScriptRun::reply_value(Json value) {
  reply_.kind = SyscallReply::Kind::kValue;
  reply_.value = std::move(value);
  return reply_;
}

SyscallReply& ScriptRun::reply_error(const Status& status, const std::string& step_key) {
  reply_.fail(lua::BoundaryError::from(status, step_key));
  return reply_;
}

SyscallReply& ScriptRun::reply_error(ErrorKind kind, std::string_view message,
                                     const std::string& step_key) {
  reply_.fail(lua::BoundaryError::make(error_kind_name(kind), message, step_key));
  return reply_;
}

SyscallReply& ScriptRun::reply_wait(Task& task, WaitKind wait, lua_State* caller) {
  task.wait = wait;
  task.caller = caller;
  reply_.kind = SyscallReply::Kind::kWait;
  return reply_;
}

}  // namespace artana::host
