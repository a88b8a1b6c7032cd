// ScriptRun: one run's execution in this host — its lua_State, its tasks, the step keys of
// this execution, and the SyscallHandler that turns the script's syscalls into kernel calls.
//
// Syscalls answer at once when they can (a replayed step, the time, a random number) and
// make the task wait otherwise (a live model or tool step, a pause, a sleep, a
// run:parallel); the scheduler (Host::tick) resumes tasks when what they wait for is done.
// Errors go back to the script as error tables with the kernel's kind and the script line.
//
// Halts stay halts: the kernel keeps returning a halted run's error from every step, and a
// run whose entry returns after catching one ends halted, not completed.
//
// Threading: used by the Host's thread only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "artana/host/host.h"
#include "artana/lua/lua_error.h"
#include "artana/lua/script_api.h"
#include "artana/lua/syscall_bridge.h"
#include "script_source.h"
#include "state_pool.h"
#include "step_keys.h"
#include "task.h"

namespace artana::host {

// The facts of a started run an execution works from — its id, tenant, recorded input and
// seed — as a reload hands them from one execution to the next (Host::reload).
struct RunFacts {
  kernel::RunId run_id;
  kernel::TenantId tenant;
  kernel::Json input;
  int64_t seed = 0;
};

class ScriptRun final : public lua::SyscallHandler {
 public:
  // Creates the lua_State and the entry task for `script` (not yet run): in `reused`, the
  // state the run's last execution gave up (give_up_state), else a fresh one.
  static Result<std::unique_ptr<ScriptRun>> create(Host& host, ScriptSource script,
                                                   RunOptions options,
                                                   std::unique_ptr<PreparedState> reused = {});
  ~ScriptRun() override;

  lua::SyscallReply& handle(lua_State* L, lua::SyscallOp op) override;

  // Resumes one ready task (a slice, or until it waits or ends); a script's slice ends by
  // `deadline` (the count hook yields).
  void run_one(std::chrono::steady_clock::time_point deadline =
                   std::chrono::steady_clock::time_point::max());
  // A task is ready and may run: the run is not held for its appends to land.
  bool has_ready() const { return !ready_.empty() && !marks_.committing; }
  // Tasks ready or calls in flight: the run is being executed and keeps its lease.
  bool busy() const {
    return !ended_ &&
           (!ready_.empty() || live_work_ > 0 || !held_starts_.empty() || awaiting_state_ != 0);
  }
  // Renews the run's lease when a third of its TTL has passed since the last renewal (the
  // steady clock: how long a call really takes). A run another process took over stops.
  void keep_lease(std::chrono::steady_clock::time_point now);
  // Stops the execution when the run was cancelled (another process's request included):
  // checked every tick while the run is executed.
  void watch_cancel();
  // Wakes sleeping tasks that are due; returns the earliest timer still pending.
  std::optional<int64_t> wake_timers(int64_t now_us);
  // The run was resumed with human input: wake its paused tasks.
  void pauses_resumed();

  // Where the host's scheduler has this execution (host_tick.cc).
  struct ScheduleMarks {
    uint64_t serial = 0;               // its name in the schedule, never reused
    bool queued = false;               // in the ready queue
    bool stopping = false;             // in the list of runs that may have stopped
    std::optional<int64_t> armed_due;  // the earliest timer the schedule holds for it
    bool committing = false;           // held until its appends land (Host::hold_for_commits)
    bool reload_watched = false;       // restarted by a reload not told yet (report_reloads)
  };
  ScheduleMarks& schedule_marks() { return marks_; }

  const kernel::RunId& run_id() const { return run_id_; }
  const std::string& script_path() const { return script_.entry_path(); }
  const RunOptions& options() const { return options_; }
  // The earliest due time of a sleeping task.
  std::optional<int64_t> next_timer() const;
  const kernel::TenantId& tenant() const { return tenant_; }
  bool started() const { return started_; }
  // Ends this run only, after a C++ exception or a Lua panic escaped the host's work on it
  // (a host bug): the run waits in needs_attention with kind `internal`; its lua_State is
  // never run again.
  void crashed(std::string_view what);
  // The first step this execution replayed with an allowed drift ({step_key, drift_fields}),
  // or null: what a hot reload reports.
  const kernel::Json& first_drift() const { return first_drift_; }
  // Whether the run has replayed everything it recorded (or ended): a reload's outcome is
  // known then.
  bool caught_up();
  const std::optional<RunOutcome>& ended_outcome() const { return ended_; }
  bool ended() const { return ended_.has_value(); }
  // The outcome once the run has nothing left to do here (ended, or only pauses and sleeps).
  std::optional<RunOutcome> outcome() const;

  // ---- pipelined commits (KernelOptions::pipelined_commits) ----
  // Nothing of the run is seen outside before what it recorded is in the ledger: a script
  // resumed, a side effect or call started, its end reported. Whether its appends have landed.
  bool commits_landed() const { return mark_ == nullptr || !mark_->pending(); }
  // The host saw them land: held work goes on — or, a commit having failed, the execution
  // stops with that error and the run stays as the ledger has it.
  void commits_landed_now();
  // Whether the run's stop may be reported: what it recorded has landed and nothing waits
  // for that. If not, the host holds it until then (and settles it again).
  bool ready_to_settle();

  // ---- a hot reload (Host::reload) ----
  // Stops this execution for a new one: its entry and branches never run again; the model
  // ports and tools answering calls in flight go on, their results recorded and handed to
  // the new execution's task that adopts them. True while calls are in flight.
  bool drain();
  // After drain(): this execution's lua_State, for the run's next execution, when no Lua
  // code of this one can run any more — none of its script's model ports or tools is
  // answering a call, and the state was not killed. Its calls in flight go on in C++ (their
  // results adopted). Null: the state stays, closed with this execution.
  std::unique_ptr<PreparedState> give_up_state();
  // The state create() had the pool recycle for this execution (StatePool::recycle_later)
  // is back: the entry task is ready now — or, the pool could not ready it, a fresh state
  // is made here; failing that the run ends as crashed() does.
  void bind_state(Recycled recycled);
  // Before drain(): what this execution knows of its started, still executing run, moved out
  // for the next execution (take_facts), which then starts without reading the run's record
  // again. Nullopt when it has not started or has stopped (the next one reads the record).
  std::optional<RunFacts> hand_over_facts();
  // Before its first slice: the facts the run's last execution handed over.
  void take_facts(RunFacts facts) { carried_ = std::move(facts); }
  bool awaiting_state() const { return awaiting_state_ != 0; }
  // Whether `adopted(ticket)` holds for one of the calls in flight (a draining execution's:
  // whether a new execution waits for one); `*any` tells whether there is a call at all.
  // Looked at for a few old executions every tick while a reload drains: nothing allocated.
  template <typename Adopted>
  bool call_adopted(Adopted&& adopted, bool* any) const {
    *any = false;
    if (ended_) return false;
    for (const auto& task : tasks_) {
      if (task->state != TaskState::kWaiting || !task->pending) continue;
      *any = true;
      if (adopted(task->pending.ticket())) return true;
    }
    return false;
  }
  // The calls of an earlier execution its tasks wait or waited for (Host::adopt).
  std::vector<uint64_t> adopted_tickets() const;
  // The old execution's call this task adopted ended: `result` is the step's value or error.
  void adopted_call_ended(uint64_t task_id, Result<kernel::Json> result);
  // The child run task `task_id` waits for stopped (Host::settle_children): its end is
  // recorded and returned to the task, or its stop holds this run.
  void child_stopped(uint64_t task_id, const RunOutcome& outcome);
  // The child could not be started at all (its script is missing or does not load): the
  // task gets the error, nothing is recorded (the step stays open for a fixed script).
  void child_not_started(uint64_t task_id, const Status& status);
  // Executes again the children this run waits for that stopped (one was resumed).
  void respawn_children();
  // A request task `task_id` sent (Host::send_http) completed.
  void http_result(uint64_t task_id, io::HttpResult result);
  // A program task `task_id` ran (Host::send_process) ended.
  void process_result(uint64_t task_id, io::ProcessResult result);

 private:
  ScriptRun(Host& host, ScriptSource script, RunOptions options);

  // Takes `prepared` as this execution's state and readies the entry task on `entry_thread`
  // (null: made and prepared here).
  Status attach(PreparedState prepared, lua_State* entry_thread);
  Task* new_task(TaskKind kind, lua_State* thread);
  void make_ready(Task& task, int resume_args);
  void resume_with(Task& task, const kernel::Json& value);
  void resume_with_error(Task& task, const lua::BoundaryError& error);
  void resume_with_status(Task& task, const Status& status, const std::string& step_key);
  void after_yield(Task& task);
  void task_returned(Task& task, int nresults);
  void task_raised(Task& task);
  void finish_task(Task& task);

  // ---- the run's end ----
  // Where the run's steps and end go now: the end of its fork chain.
  kernel::RunId active_run();
  void entry_returned(Task& entry, int nresults);
  void entry_raised(Task& entry, kernel::Json error);
  void keep_script_kind(kernel::Json& error) const;
  void killed();
  // Asks the kernel what the execution's end means for the run and ends with that.
  void end_execution(kernel::ExecutionEnd end);
  // Names the fork the run went on in (after fork_on_drift) as the outcome's run.
  void name_fork(RunOutcome& outcome, const kernel::RunId& executed_in) const;
  void end_with(kernel::RunStatus status, kernel::Json output, kernel::Json error);

  // True (and the host told) while the run's appends have not landed.
  bool gated();
  // after_yield's work for `task`, once nothing holds it.
  void start_after_yield(Task& task);
  // The syscall's reply `reply` waits in `task` for the run's appends to land.
  lua::SyscallReply& hold_reply(Task& task, lua::SyscallReply& reply, lua_State* L);
  void commit_failed();
  // Everything it recorded landed, without a failure not yet acted on, and no work waits.
  bool in_ledger() const {
    return commits_landed() && !marks_.committing && held_starts_.empty() &&
           (mark_ == nullptr || !mark_->failed() || commit_failed_);
  }

  // ---- syscalls (run_*.cc) ----
  lua::SyscallReply& reply_value(kernel::Json value);
  lua::SyscallReply& reply_error(const Status& status, const std::string& step_key = {});
  lua::SyscallReply& reply_error(ErrorKind kind, std::string_view message,
                                 const std::string& step_key = {});
  lua::SyscallReply& reply_wait(Task& task, WaitKind wait, lua_State* caller);
  // The task making a syscall that may go to the kernel, or an error reply.
  Task* syscall_task(lua::SyscallOp op);
  // The step key for `kind` with an optional explicit key, claimed for L's script line.
  Result<std::string> claim_key(lua_State* L, Task& task, std::string_view kind,
                                std::optional<std::string_view> explicit_key);

  lua::SyscallReply& route(lua_State* L, lua::SyscallOp op);
  lua::SyscallReply& sys_ready(lua_State* L);
  lua::SyscallReply& sys_require(lua_State* L);
  lua::SyscallReply& sys_model(lua_State* L, Task& task);
  lua::SyscallReply& sys_tool(lua_State* L, Task& task);
  lua::SyscallReply& sys_pause(lua_State* L, Task& task);
  lua::SyscallReply& sys_sleep(lua_State* L, Task& task);
  lua::SyscallReply& sys_now(lua_State* L, Task& task);
  lua::SyscallReply& sys_random(lua_State* L, Task& task);
  lua::SyscallReply& sys_memory(lua_State* L, Task& task);
  lua::SyscallReply& sys_summary(lua_State* L, Task& task);
  lua::SyscallReply& sys_lookup(lua_State* L, Task& task);
  lua::SyscallReply& sys_child(lua_State* L, Task& task);
  // run:child's value for a child's completion ({status, output | error}), or child_failed.
  static Result<kernel::Json> child_result(const kernel::Json& completion,
                                           const kernel::RunId& child, bool replayed,
                                           const std::string& step_key);
  Task* child_waiter(uint64_t task_id);
  lua::SyscallReply& sys_artifact(lua_State* L, Task& task);
  lua::SyscallReply& sys_version(lua_State* L, Task& task);
  lua::SyscallReply& sys_replaying(lua_State* L, Task& task);
  lua::SyscallReply& sys_run_id(lua_State* L, Task& task);
  lua::SyscallReply& sys_step(lua_State* L, Task& task, lua::SyscallOp op);
  lua::SyscallReply& sys_scope(lua_State* L, Task& task, lua::SyscallOp op);
  lua::SyscallReply& sys_parallel(lua_State* L, Task& task);

  // ---- live work started after a yield ----
  void start_entry(Task& entry);
  void start_model_port(Task& waiter);
  // ---- model steps answered over HTTP (run_http_model.cc) ----
  // Where a live model step goes (a Lua port's name, or an endpoint), or an error reply.
  struct ModelRoute {
    std::string port;                         // a Lua port: its name ("*" included)
    const ModelEndpoint* endpoint = nullptr;  // else an endpoint
    std::string endpoint_name;
    const NativeFunction* native = nullptr;  // else the application's port (the host's)
  };
  std::optional<ModelRoute> route_model(const std::string& model) const;
  Status prepare_http_model(Task& task, const ModelRoute& route, bool stream);
  void start_http_model(Task& task);
  void http_next(Task& task, HttpModelCall::Next next);
  // ---- native tools and ports: the application's functions (run_native.cc) ----
 public:
  // The application completed the call task `task_id` waits for (Host::deliver_completions).
  void native_result(uint64_t task_id, NativeReply reply);

 private:
  void start_native_tool(Task& waiter, const NativeFunction& fn);
  // A model port's request (Lua or native), the call's values moved into it.
  static kernel::Json model_port_request(kernel::ModelCall& call);
  // What a port (Lua or native) answered, as the kernel's ModelOutcome.
  static kernel::ModelOutcome port_outcome(const std::string& port, kernel::Json&& result);
  void start_native_model(Task& waiter);
  // ---- built-in tools (run_builtins.cc) ----
  // Checks a built-in's request against what the operator allows, before its step begins.
  Status check_builtin(const kernel::ToolCall& call);
  void start_builtin(Task& waiter);
  void start_exec(Task& waiter);
  // Where a file tool's paths are resolved: the workspace, or the script's folder.
  std::string file_root(std::string_view tool) const;
  void http_tool_next(Task& waiter, std::optional<kernel::ToolOutcome> done);
  void finish_builtin(Task& waiter, kernel::ToolOutcome outcome);
  void start_tool(Task& waiter);
  void start_parallel(Task& parent);
  void start_branches(ParallelGroup& group);
  void port_returned(Task& port, int nresults);
  void port_raised(Task& port);
  void tool_returned(Task& tool, int nresults);
  void tool_raised(Task& tool);
  void branch_ended(Task& branch, std::optional<kernel::Json> error);
  // A live call this execution made finished (recorded by the kernel): its value or error
  // goes to the task waiting for it — or, draining, to the new execution's task that
  // adopted it.
  void call_finished(Task& waiter, uint64_t ticket, Result<kernel::Json> result);
  // The step was adopted from an old execution: the task waits for that call's result.
  lua::SyscallReply& wait_adopted(Task& task, uint64_t ticket, const std::string& key,
                                  lua_State* L);
  void finish_group(ParallelGroup& group);
  kernel::Json model_result_json(kernel::ModelResult&& result);
  static kernel::Json tool_result_json(kernel::ToolResult&& result);
  // A replayed result handed on as its recorded text (ModelResult::recorded_payload).
  lua::SyscallReply& reply_recorded_model(kernel::ModelResult&& result,
                                          const std::string& step_key);

  // Builds the run's tool registry from what the script registered (artana.tool).
  Result<std::shared_ptr<const kernel::ToolRegistry>> script_tools();
  // Starts the run, or resumes and re-identifies an existing one. Sets run_id_, tenant_, input_.
  Status start_or_resume();
  // The rest of a start, the run's facts known: its tools and code recorded, the commit
  // mark taken.
  Status finish_start(std::shared_ptr<const kernel::ToolRegistry> tools);
  kernel::Json script_identity() const;
  // The error table fields of the value on top of `thread` (an error it raised), with a
  // traceback of `thread`.
  kernel::Json error_json(lua_State* thread, int index);

  Host& host_;
  kernel::Kernel& kernel_;
  ScriptSource script_;
  RunOptions options_;
  std::unique_ptr<lua::LuaState> lua_;  // null once given up (give_up_state)
  lua::ScriptApi api_;
  std::shared_ptr<PrintTarget> print_;  // where the state's print() goes: set to this run
  lua::SyscallReply reply_;

  kernel::RunId run_id_;
  kernel::TenantId tenant_;
  kernel::Json input_;
  int64_t seed_ = 0;
  std::optional<RunFacts> carried_;  // from the run's last execution (a reload)
  std::unordered_set<std::string> port_names_;
  bool started_ = false;

  std::vector<std::unique_ptr<Task>> tasks_;
  TaskQueue ready_;
  Task* current_ = nullptr;
  uint64_t next_task_id_ = 1;
  size_t live_work_ = 0;         // port and tool tasks in flight
  uint64_t awaiting_state_ = 0;  // the pool's ticket while its state is recycled (create)
  kernel::Json first_drift_;     // first_drift()
  bool went_live_ = false;       // this execution began a live model or tool call
  void note_drift(const std::string& step_key, const std::vector<std::string>& fields);
  std::chrono::steady_clock::time_point lease_renewed_ = std::chrono::steady_clock::now();
  StepKeys keys_;
  std::optional<RunOutcome> ended_;
  bool draining_ = false;  // replaced by a reload: only calls in flight go on
  ScheduleMarks marks_;
  std::shared_ptr<const kernel::CommitMark> mark_;  // set once the run is started here
  std::vector<Task*> held_starts_;  // after_yield work waiting for the appends to land
  bool commit_failed_ = false;      // a commit failed: the execution stopped (commit_failed)
};

}  // namespace artana::host
