// Host: runs Lua scripts as durable runs on a Kernel. One lua_State per run; the script's
// entry, its run:parallel branches, its model ports and its tools are coroutines of that
// state ("tasks"), driven by a tick-driven scheduler: tick() runs ready work for about the
// budget given and returns, so an embedding app can call it from its own frame loop; the
// CLI ticks until every run is idle.
//
// A run that is started again (same run id, here or in another process after a crash) runs
// its script from the top: recorded steps come back from the ledger, the first unrecorded
// one goes live. The host keeps no state a replay could not rebuild.
//
// Threading: one thread drives a Host (tick, start, resume); the Kernel it uses is
// thread-safe. Not copyable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "artana/host/host_types.h"
#include "artana/host/model_endpoints.h"
#include "artana/host/native_calls.h"
#include "artana/kernel/kernel.h"
#include "artana/lua/lua_limits.h"

namespace artana::io {
class IoThread;
class HttpAllowList;
struct HttpCall;
struct ProcessCall;
}  // namespace artana::io

namespace artana::host {

class ScriptRun;
class ScriptSource;
class StatePool;
struct PreparedState;
struct SourceFile;
struct Schedule;
class NativeInbox;

class Host {
 public:
  Host(kernel::Kernel& kernel, HostOptions options);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Loads `script_path` and starts it as a new run — or, when options.run_id names an existing
  // run, executes that run again under this script (replaying what it recorded; a run that
  // needs attention is resumed first). Returns the run id at once; the work happens in tick().
  Result<kernel::RunId> start(const std::string& script_path, RunOptions options);

  // Hot reload: executes the run again under the script's current code (or `script_path`),
  // even while it is busy. The current execution stops where it stands and the new one
  // replays; the replay policy decides what a change means. Model and tool calls in flight
  // go on: the new execution adopts each when it reaches its step with the same request (no
  // second call, no unknown outcome). A call it reaches with another request, or has not
  // reached by the time it goes idle, is abandoned as a crash would abandon it.
  Status reload(const kernel::RunId& run, const std::string& script_path = {});

  // Hot reload of a script (host_reload.cc): every live run of `script_path` held here —
  // executing, parked (paused, sleeping, halted) or suspended; not one that ended —
  // executes again under the script's current text (a
  // memory script: set_memory_script first), replaying its history; `listener` hears once per
  // run how that went. Calls in flight are kept: the new executions adopt them. Returns the
  // number of runs to reload at once: each is restarted by a later tick, as many a tick as
  // its budget allows (a reload of a thousand runs never stalls the caller or one frame); a
  // run that ends before its turn is not restarted, and is told as ended.
  size_t reload_script(const std::string& script_path, ReloadListener listener);
  // Stops executing the runs of `script_path` here without losing work: their calls in
  // flight finish and are recorded as they come back. resume_script executes them again
  // (replaying what was recorded meanwhile, adopting what is still in flight).
  size_t suspend_script(const std::string& script_path);
  size_t resume_script(const std::string& script_path);

  // Gives a paused run its human input and lets its pause return it.
  Status resume(const kernel::RunId& run, const kernel::Json& input);

  // Cancels the run (Kernel::cancel) and, when it executes here, stops that execution now:
  // its native calls are cancelled at once (native_calls.h) and it ends cancelled.
  Status cancel(const kernel::RunId& run, const std::string& reason);

  // ---- native tools and model ports (native_calls.h) ----
  // A tool every run started from now on has, beside its script's (a script tool of the
  // same name is an error at the run's start). Its name must be new here and not a built-in.
  Status add_native_tool(NativeTool tool);
  // A model port for `name_or_prefix` (a model name, or a prefix ending in '*'): a live model
  // step's route after a Lua port of the model's exact name, before endpoints and the "*"
  // Lua port; the longest matching prefix wins.
  Status add_native_port(const std::string& name_or_prefix, NativeFunction fn);

  // Runs ready work for about `budget` and returns: completions first, then due timers, then
  // runs with a ready task in turn, one slice each (a script's slice ends at the budget's end:
  // the count hook preempts it). Costs nothing in proportion to the runs held: an idle tick
  // looks at a few counters and clocks (host_tick.cc).
  TickResult tick(std::chrono::microseconds budget);

  // True when no run has work to do now (all ended, paused, sleeping, or waiting for a
  // request in flight).
  bool idle() const;

  // Requests in flight (HTTP model calls): a run waiting for one is not done.
  size_t in_flight() const;

  // Executions that took the lua_State of their run's previous execution (a hot reload
  // whose old execution runs no Lua any more) instead of a new one. For diagnostics.
  uint64_t states_reused() const;
  // Of those, the states recycled on the pool's thread while the run waited (a reload of
  // runs in a host that has started several). For diagnostics.
  uint64_t states_recycled_off_thread() const;
  // Old executions of reloaded runs kept for their calls in flight (until a new execution
  // adopts a call and it ends, or none is adopted). For diagnostics.
  size_t old_executions() const;
  // Waits until a request in flight completes, a run's timer comes due (on the host's clock)
  // or `max` passes (an app's loop gives its next frame); true when a completion or a due
  // timer is waiting for tick(). Returns at once when nothing is in flight and `max` is zero. Runs
  // waiting for their steps to land: their commits are made here, on this thread, outside any tick
  // (Kernel::commit_queued).
  bool wait_for_work(std::chrono::microseconds max);
  // A file descriptor readable while completions wait for tick(): for an app that polls its
  // own descriptors. Valid for the Host's life.
  int wakeup_fd() const;
  // Makes wakeup_fd() readable (another thread has given work: a run started, a script
  // loaded), and waits for it to be, at most `max`, then clears it: how a thread that ticks
  // the host sleeps between ticks. Thread-safe.
  void wake();
  void wait_for_wakeup(std::chrono::microseconds max);

  // A run's outcome once it has nothing left to do here; nullopt while it still works (or
  // is unknown to this host).
  std::optional<RunOutcome> outcome(const kernel::RunId& run) const;

  // Runs held here (executing or parked).
  size_t loaded_runs() const { return runs_.size() + parked_.size(); }

  // Forgets an idle run here (its lua_State is freed; its lease released).
  Status unload(const kernel::RunId& run);

  // Scripts an application loaded from memory (the C API): the path `mem:<name>` names one
  // wherever a script path is taken (start, reload, a parked run's restart). Adding a name
  // again replaces its text; runs already started keep executing what they loaded.
  void set_memory_script(const std::string& name, std::string text);
  void remove_memory_script(const std::string& name);

  kernel::Kernel& kernel() { return kernel_; }
  const HostOptions& options() const { return options_; }
  // Replaces HostOptions::clock (empty: the system clock). Refused once a run has started
  // here: the timers already set count in the old clock.
  Status set_clock(std::function<int64_t()> clock);
  // Replaces HostOptions::module_loader; requires from now on ask the new one.
  void set_module_loader(ModuleLoader loader) { options_.module_loader = std::move(loader); }
  int64_t now_us() const { return options_.clock(); }

 private:
  friend class ScriptRun;
  Result<ScriptSource> load_source(const std::string& script_path, const RunOptions& options);

  // Scripts loaded from memory (the C API), by name: the text and its SHA-256 (lowercase hex),
  // hashed once when set — each execution names its source by hash, and a reload of a
  // thousand runs hashed the same text a thousand times.
  struct MemoryScript {
    std::string text;
    std::string sha256;
  };
  std::map<std::string, MemoryScript, std::less<>> memory_scripts_;

  // An idle run whose lua_State was freed: enough to execute it again.
  struct Parked {
    std::string script_path;
    RunOptions options;
    RunOutcome outcome;
    std::optional<int64_t> wake_us;  // sleeping: when its timer is due
    // Stopped by suspend_script (not idle): only resume_script or reload_script restart it,
    // and its kernel view (with the calls in flight) is kept for that.
    bool suspended = false;
  };
  Status restart(const std::string& run_id);

  // ---- the scheduler (host_tick.cc) ----
  // Every execution registers here while it exists (ScriptRun's constructor and destructor):
  // the queue and the timers name it by serial, never by a pointer that could dangle.
  uint64_t register_run(ScriptRun& run);
  void unregister_run(ScriptRun& run);
  // `run` has a ready task: it takes its turn in a tick (once in the queue however many).
  void run_ready(ScriptRun& run);
  // A task of `run` waits until `due_us` (the app's clock): the run is woken then.
  void arm_timer(ScriptRun& run, int64_t due_us);
  // `run` may have nothing left to do (its slice left nothing ready, or it ended from the
  // outside): at the tick's end a stopped child is settled and an idle run parked.
  void may_have_stopped(ScriptRun& run);
  ScriptRun* live_run(uint64_t serial) const;
  // `run` goes on only once its pipelined appends land (the kernel's listener says when).
  void hold_for_commits(ScriptRun& run);
  // The runs held whose appends have landed go on.
  void release_landed();
  bool nothing_to_do(int64_t now_us, int64_t steady_us) const;
  void wake_due_timers(int64_t now_us);
  void run_slices(std::chrono::steady_clock::time_point deadline, TickResult& result,
                  bool progressed);
  // Lease renewals and cancel checks of executing runs, each run once in a while, never in
  // proportion to the runs held in one tick.
  void keep_runs(std::chrono::steady_clock::time_point deadline);
  void settle_stopped(std::chrono::steady_clock::time_point deadline);
  void park(ScriptRun& run, RunOutcome outcome);
  std::unique_ptr<Schedule> schedule_;  // schedule.h
  // Makes the runs' lua_States ahead and closes those of executions that went away, off this
  // thread (state_pool.h). Before runs_: it outlives every execution.
  std::unique_ptr<StatePool> states_;
  // A reload's new executions wait while the pool recycles their states (host_reload.cc):
  // by the pool's ticket, the serial of the execution waiting.
  void await_state(uint64_t ticket, ScriptRun& run);
  void forget_state(uint64_t ticket);
  void bind_recycled();  // hands each state the pool has readied to its execution
  std::unordered_map<uint64_t, uint64_t> awaiting_states_;
  // The budget of the tick under way (a reload outside a tick: none). A reload in a tick of
  // at least kReadAheadBudget is catching up, not keeping a frame: its restarted runs' first
  // results are read ahead (Kernel::reload).
  static constexpr std::chrono::microseconds kReadAheadBudget{20'000};
  std::chrono::microseconds tick_budget_ = std::chrono::microseconds::max();

  // ---- calls in flight across a reload (host.cc) ----
  // A new execution's task waits for the call `ticket` an old execution made (Kernel: adopted).
  void adopt(uint64_t ticket, ScriptRun& run, uint64_t task_id);
  // An old execution's call finished: its result goes to the task that adopted it, if any.
  void adopted_call_finished(uint64_t ticket, Result<kernel::Json> result);
  // `run` is going away: nothing it waits for is delivered to it any more.
  void forget_adoptions(const ScriptRun& run);
  // Drops old executions whose calls all finished, or whose calls the new execution has not
  // adopted by the time it is idle; one whose call was adopted is held (held_drains_) until
  // that adoption ends, then looked at again.
  void drop_drained();
  // drop_drained's test for one; false with `*adopted` set: a new execution waits for that
  // call of it.
  bool drained(const ScriptRun& old, uint64_t* adopted) const;
  // The adoption of `ticket` ended: the old execution held for it is looked at again.
  void release_held_drain(uint64_t ticket);
  struct Adoption {
    ScriptRun* run = nullptr;
    uint64_t task_id = 0;
  };
  // Runs reloaded whose outcome is not told yet (reload_script), by run id, and telling it.
  // Found by id, never searched: a reload of a thousand runs looked each up in a list of a
  // thousand (a million string compares, a tenth of the reload).
  struct ReloadWatch {
    std::shared_ptr<ReloadListener> listener;
    bool restarted = false;  // its new execution has begun: its outcome may be told
    // Not restarted (it could not begin, it ended or was suspended before its turn), or
    // suspended while replaying: told as this.
    std::optional<ReloadReport> told_as;
  };
  // The reload watching `run` tells it `outcome` (it restarts no more under this reload):
  // every run a reload counted is told, restarted or not.
  void tell_as(ReloadWatch& watch, const kernel::RunId& run, ReloadOutcome outcome,
               kernel::Json detail);
  // A reload watching `run`, its script being suspended, tells it so unless its outcome is
  // told otherwise: a run still to restart or replaying (`replaying`: a live execution
  // being stopped) replays nothing more until resume_script.
  void tell_suspended(const kernel::RunId& run, bool replaying);
  std::unordered_map<std::string, ReloadWatch> reload_watches_;
  // The runs reload_script queued, restarted in this order by restart_reloaded; an id whose
  // watch is gone or already restarted (queued again, restarted earlier; suspended) is passed
  // over.
  std::deque<kernel::RunId> pending_restarts_;
  // Runs restarted whose outcome is not told yet, looked at when they ran or stopped (a
  // reload's restarted run: ScheduleMarks::reload_watched) — never all every tick: a game
  // starting more runs than its frames can begin queues the restarted runs behind them, and
  // looking at each every tick cost a frame 0.5 ms. A few a tick, in turn, are looked at
  // anyway (one that went without running: unloaded, parked).
  std::vector<kernel::RunId> reload_checks_;
  std::deque<kernel::RunId> restarted_watches_;
  void note_reload_progress(ScriptRun& run);
  // Restarts queued runs within the tick that began at `start` (host_reload.cc).
  void restart_reloaded(std::chrono::steady_clock::time_point start,
                        std::chrono::steady_clock::time_point deadline);
  // The status `run` ended with (completed, failed, cancelled...), executing or parked here;
  // nullopt while it has more to execute.
  std::optional<kernel::RunStatus> ended_status(const kernel::RunId& run) const;
  void report_reloads();
  std::optional<ReloadReport> reload_report(const kernel::RunId& run);
  // Takes `run`'s execution out of runs_ keeping its calls in flight (drained by draining_)
  // and its kernel view for the next execution; false when it has none here.
  // With `state`: the old execution's lua_State, when it can serve the next one.
  bool stop_keeping_calls(const kernel::RunId& run, RunOptions& options, std::string& path,
                          std::unique_ptr<PreparedState>* state = nullptr);
  // start(), in `reused` when given (a reload: the old execution's state).
  Result<kernel::RunId> start_execution(const std::string& script_path, RunOptions options,
                                        std::unique_ptr<PreparedState> reused);

  // ---- child runs (host_children.cc) ----
  // Starts (or executes again) the child run `options.run_id` of `parent`'s task `task_id` at
  // the next tick; its stop (ended, or idle: paused, sleeping, halted) goes to that task.
  void start_child(ScriptRun& parent, uint64_t task_id, std::string step_key,
                   std::string script_path, RunOptions options);
  void spawn_children();
  // Hands a child that stopped to the task that waits for it, and unloads it here; false
  // when `run` is no child waited for here.
  bool settle_child(const std::string& id, const RunOutcome& outcome);
  bool children_to_spawn_ = false;  // start_child or an orphan since the last spawn_children
  // `parent` is going away: its children stop here too (their runs stay as the ledger has
  // them, for the parent's next execution).
  void forget_children(const ScriptRun& parent);
  // Resumes a child run held by a run here (unloaded when it stopped), then executes the run
  // that holds it again.
  Status resume_held(const kernel::RunId& run, const kernel::Json& input);
  // A loaded run executes its stopped children again (parked: the run restarts).
  Status execute_again(const std::string& run_id);
  struct ChildLink {
    std::string parent;  // the parent's run id as this host holds it
    uint64_t task_id = 0;
    std::string step_key;
    std::string script_path;
    RunOptions options;
    bool spawned = false;
  };

  // ---- native tools and ports (host_native.cc) ----
  const NativeFunction* native_port(const std::string& model) const;
  // Asks the application: `fn` gets a token that completes `run`'s task `task_id` later
  // (deliver_completions). When `fn` throws, the token is completed here with a permanent
  // failure: the task always gets an answer.
  void call_native(const NativeFunction& fn, const NativeCall& call, ScriptRun& run,
                   uint64_t task_id);
  void forget_native(const ScriptRun& run);
  struct RegisteredNative {
    NativeTool tool;
    std::shared_ptr<const kernel::RegisteredTool> compiled;  // added to each run's registry
  };
  std::map<std::string, RegisteredNative> native_tools_;
  const RegisteredNative* native_tool(const std::string& name) const;
  // The registry of a run whose script registered no tool: the application's native tools
  // and the built-ins, made once and shared (made again after a native tool is added).
  Result<std::shared_ptr<const kernel::ToolRegistry>> shared_tools();
  // Adds the native tools and the built-ins to a run's registry (a script tool of the same
  // name as a native one is refused).
  Status add_host_tools(kernel::ToolRegistry& registry) const;
  std::shared_ptr<const kernel::ToolRegistry> shared_tools_;
  // Sources (by SHA-256) this host stored or found stored: an execution of a run that
  // starts again or requires a module again does not hash and store its text again.
  std::unordered_set<std::string> stored_sources_;
  Status store_source(const SourceFile& source);

  std::map<std::string, NativeFunction> native_ports_;  // by name, or prefix ending in '*'

  // ---- requests of the outside world (host_io.cc) ----
  // Sends `call` for `run`'s task `task_id`; its result comes back to that task in tick().
  Result<uint64_t> send_http(io::HttpCall call, ScriptRun& run, uint64_t task_id);
  // Runs `call` for `run`'s task `task_id`; its end comes back to that task in tick().
  Result<uint64_t> send_process(io::ProcessCall call, ScriptRun& run, uint64_t task_id);
  // `run` is going away: its requests are cancelled and their late results dropped.
  void forget_http(const ScriptRun& run);
  // Hands completed requests to the tasks that wait for them: the I/O thread's all, the
  // application's at least one and then as long as `deadline` is ahead (the rest wait in
  // the backlog for the next call: a burst of answers spreads over ticks).
  size_t deliver_completions(std::chrono::steady_clock::time_point deadline);
  // Auto API mode: base URLs whose servers said they have no Responses API.
  bool chat_only(const std::string& base_url) const { return chat_only_bases_.count(base_url) > 0; }
  void learned_chat_only(const std::string& base_url) { chat_only_bases_.insert(base_url); }
  double jitter01() { return std::uniform_real_distribution<double>(0, 1)(jitter_); }
  // run:http's allowed hosts (HostOptions::http_allow, parsed once) and secret variables.
  const io::HttpAllowList& http_allow() const { return *http_allow_; }
  const std::set<std::string>& secret_env() const { return secret_env_; }

  kernel::Kernel& kernel_;
  HostOptions options_;
  std::map<std::string, std::unique_ptr<ScriptRun>> runs_;
  std::map<std::string, Parked> parked_;
  std::deque<std::unique_ptr<ScriptRun>> draining_;  // old executions with calls in flight
  // Old executions whose call (the key) a new execution adopted: kept out of draining_, so a
  // reload of a thousand runs waiting on their ports is not looked at every tick.
  std::unordered_map<uint64_t, std::unique_ptr<ScriptRun>> held_drains_;
  std::map<std::string, ChildLink> children_;            // child runs executing, by run id
  std::map<std::string, std::string> held_by_;           // a stopped child -> its parent
  std::vector<std::string> orphaned_children_;           // to unload at the next tick
  bool closing_ = false;                                 // ~Host: nothing more is unloaded
  std::unordered_map<uint64_t, Adoption> adoptions_;     // by call ticket
  std::unique_ptr<io::IoThread> io_;                     // its thread starts with the first request
  std::unordered_map<uint64_t, Adoption> http_waiters_;  // by request id
  std::set<std::string> chat_only_bases_;
  std::mt19937_64 jitter_{std::random_device{}()};  // retries' waits: never replayed
  std::unique_ptr<io::HttpAllowList> http_allow_;
  std::set<std::string> secret_env_;
  // After io_: its wake function pokes io_'s descriptor, so it closes first.
  std::unique_ptr<NativeInbox> native_;
  // Set by the kernel's commit listener (the store's commit thread): some append landed.
  std::atomic<bool> commits_landed_{false};
};

}  // namespace artana::host
