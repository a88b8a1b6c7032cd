// Kernel: the physics every run obeys — run lifecycle, step identity, O(1) replay, drift
// policies and forks, halts — on top of an EventStore. Usable from C++ alone; the Lua host is
// a client of exactly this API.
//
// Steps are submit / complete: begin_model returns the recorded result (replay: no port
// call, no append) or a ModelCall to make with the PendingStep that owns it; finish_model
// records its outcome. Any number of steps of one run may be pending at once, and finish_*
// may be called from any thread. Every kind of step is decided by one step machine
// (step_machine.cc): replay, drift, live or halt.
//
// Every call names the caller's tenant and is refused (kPermissionDenied) for a run of
// another tenant. Errors a script can act on carry Status::kind() (kernel_types.h
// error_kind): replay_drift, budget_exceeded, cancelled, … A run that halts (replay_drift,
// budget_exceeded, reconciliation_required, cancelled, a limit) keeps returning that error
// from every later step call while it stays loaded.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "artana/kernel/commit_mark.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/middleware.h"
#include "artana/kernel/pending_step.h"
#include "artana/kernel/step_kind.h"
#include "artana/kernel/tool_registry.h"

namespace artana::kernel {

class KeptBudget;
class RunState;
class SchemaCache;
struct StepRecord;
struct RecordedTerminal;
struct RequestIdentity;

// A pause step: either the run is now paused (paused == true), or it was resumed and this
// is the human input it was resumed with.
struct PauseResult {
  bool paused = false;
  Json input;
  uint64_t seq = 0;
};

class Kernel {
 public:
  // The one way to make a kernel: the options are checked (a null middleware entry; under
  // PolicyMode::kEnforced the PII scrubber, quota and capability guard are required, and a
  // missing one fails here naming it). Default options: permissive, no middleware given.
  static Result<std::unique_ptr<Kernel>> open(EventStore& store, KernelOptions options = {});
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // The tools of runs without their own registry (set_run_tools).
  ToolRegistry& tools() { return tools_; }

  // A fresh run id: "run_" + 128 random bits in lowercase base32.
  static RunId new_run_id();

  // Creates the run and records run_started {tenant, script_hash, input, replay_policy,
  // parent_run_id, metadata}. kAlreadyExists for a taken id.
  Result<RunId> start_run(const StartRunRequest& request);

  // ---- steps ----
  Result<ModelStep> begin_model(const TenantId& caller, const RunId& run,
                                const ModelRequest& request);
  // Records the outcome of a live step begun with begin_model. A failed call is the step's
  // terminal (model_failed: replayed as that failure unless the step asks retry_failed); it
  // is returned as a model_failed error and does not fail the run.
  // `outcome` is taken by value: what the port returned is moved into the ledger, not copied.
  Result<ModelResult> finish_model(PendingStep step, ModelOutcome outcome);
  // What finish_model would say of `output` against the step's schema, without finishing
  // it: a port that can ask its model again (a repair turn) checks first. OK when the step
  // has no schema; kInvalidArgument naming what misses it.
  Status check_model_output(const PendingStep& step, const Json& output) const;

  // Tools are two-phase: begin_tool validates the arguments against the tool's schema (bad
  // arguments append nothing), then commits tool_requested — synced in `effects` mode for a
  // side-effecting tool — before returning the call to run; finish_tool records
  // tool_completed. A request found without a completion when the run is loaded gets an
  // unknown_outcome completion, and that step halts with reconciliation_required until an
  // operator reconciles it: the kernel never re-runs such a tool by itself.
  Result<ToolStep> begin_tool(const TenantId& caller, const RunId& run, const ToolRequest& request);
  // A failure is returned as a tool_failed error (and recorded as the step's terminal).
  Result<ToolResult> finish_tool(PendingStep step, ToolOutcome outcome);
  // retry: the next begin_tool of the step runs it live once more with the same idempotency
  // key; success / failed: what really happened, recorded as the step's completion; abandon:
  // the step fails for good. Each decision is an event naming `operator_id`.
  Status reconcile(const std::string& operator_id, const RunId& run, const std::string& step_key,
                   const ReconcileDecision& decision);

  // A value step (kernel_types.h ValueKind): the recorded value on replay, else
  // `compute()`'s, recorded (PII replaced) as the step's terminal. A completed run never
  // computes a new one.
  Result<ValueStep> value_step(const TenantId& caller, const RunId& run,
                               const std::string& step_key, ValueKind kind,
                               const std::function<Result<Json>()>& compute);

  // Temporal's GetVersion: the version recorded for `change_id` (step "version:<id>"); the
  // first time a live run reaches it, `max` is recorded and returned; a run still replaying
  // recorded steps and without a marker gets 0 — the old code path — recording nothing, and
  // keeps getting 0 for that id for as long as it stays loaded.
  Result<int64_t> version(const TenantId& caller, const RunId& run, const std::string& change_id,
                          int64_t max);
  // The run the run's steps go to now: itself, or the end of its fork chain.
  Result<RunId> executing_run(const TenantId& caller, const RunId& run);
  // Whether the run still has recorded steps ahead of the script (it is replaying).
  Result<bool> replaying(const TenantId& caller, const RunId& run);

  // `step_key` names the pause in the script: the first time, the run becomes paused
  // (run_paused {reason, context}); once resume() was called, the same step returns the
  // input it was resumed with.
  Result<PauseResult> pause(const TenantId& caller, const RunId& run, const std::string& step_key,
                            const std::string& reason, const Json& context);

  // ---- child runs (kernel_child.cc) ----
  // run:child's step: the recorded completion, or the child to execute. Judged before
  // anything is recorded: more than kMaxChildDepth generations is invalid_argument; a
  // capability the caller lacks is capability_denied (step_denied; the step stays open for a
  // grant); a budget over the caller's remainder (its budget minus its tree's spend) halts
  // the caller with budget_exceeded. Then child_started {step_key, child_run_id, script,
  // capabilities, budget_micro_usd, request_hash} is recorded (synced); a request other than
  // the recorded one is drift.
  Result<ChildStep> begin_child(const TenantId& caller, const RunId& run,
                                const ChildRequest& request);
  // The child ended (completed, failed or cancelled): records child_completed {step_key,
  // child_run_id, status, output | error}; the caller runs again if the child held it. The
  // child stopped (paused, sleeping, needs_attention): records child_waiting {step_key,
  // child_run_id, status, error?, due_at_us?} once per stop and gives the caller that status
  // (Kernel::resume refuses it while the child is stopped, naming the child).
  Status end_child(const TenantId& caller, const RunId& run, const std::string& step_key,
                   const RunId& child, const ChildEnd& end);

  // ---- lifecycle ----
  Status resume(const TenantId& caller, const RunId& run, const Json& input);
  // Cancels the run — and its children that have not ended, and theirs: run_cancelled at
  // once when no other live process executes it (its later
  // steps then fail with `cancelled`); else cancel_requested is recorded for the owner, whose
  // host stops the execution within about a second and appends run_cancelled (kRequested). A run
  // that already ended: failed_precondition.
  Result<CancelResult> cancel(const TenantId& caller, const RunId& run, const std::string& reason);
  // For the process executing the run (Host::tick): whether the run is cancelled, applying a
  // cancel another process requested (run_cancelled appended). Reads the run's head.
  Result<bool> take_cancel(const TenantId& caller, const RunId& run);
  Status complete(const TenantId& caller, const RunId& run, const Json& output);
  Status fail(const TenantId& caller, const RunId& run, const Json& error);
  // Decides what an execution's end means for the run, the one place that does:
  //   returned   -> completed (a run that was running, paused or sleeping); a halt the script
  //                 caught keeps the run halted; an ended run keeps its status;
  //   raised     -> failed (a running run); needs_attention when recorded steps were still
  //                 ahead (new code breaking on old history is the code's fault) or when the
  //                 error is a step's capability_denied a grant can lift (resume --grant); a halt
  //                 wins over the error the script raised; a paused or sleeping run stays so;
  //   killed     -> failed with the reason (limit_exceeded), or needs_attention for a host
  //                 failure (kind internal); an ended run keeps its status;
  //   idle       -> unchanged; the halt, if any, is the error.
  // Another owner's lease (lease_held, fenced) is never ours to end: the status is kept.
  Result<RunEnd> end_execution(const TenantId& caller, const RunId& run, const ExecutionEnd& end);
  // Halts the run in needs_attention with `error` ({kind, message, step_key, …}) recorded in
  // run_halted: for failures that are the code's fault rather than the run's (a script that
  // breaks while replaying its own history). resume() lets it run again.
  Status hold_for_attention(const TenantId& caller, const RunId& run, const Json& error);
  // Summary kinds starting "policy", "approval" or "intent" are the kernel's: refused here.
  // With a step_key (what a script passes) the summary is a step: recorded once, and a
  // replay that reaches it again appends nothing. `key` (1..400 bytes; default the step key)
  // is what run:lookup keeps the latest summary of. `value` is taken (move a large one in).
  Status summary(const TenantId& caller, const RunId& run, const std::string& kind, Json value,
                 const std::string& step_key = {}, const std::string& key = {});
  // The same with the value made only if the step needs it: a replayed step records nothing
  // and, unless a middleware rewrites_values(), never reads it (a host converting a
  // script's value passes the conversion). Called at most once, before this returns.
  using ValueSource = std::function<Result<Json>()>;
  Status summary(const TenantId& caller, const RunId& run, const std::string& kind,
                 const ValueSource& value, const std::string& step_key = {},
                 const std::string& key = {});
  // A value step (lookup_read): the latest summary of each key of `request.kind` in the run's
  // scope (its fork prefix included) or its tenant's, newest first — an array of {run_id,
  // seq, key, value}. A replay returns what the step found then, whatever was written since.
  Result<ValueStep> lookup(const TenantId& caller, const RunId& run, const std::string& step_key,
                           const LookupRequest& request);
  Result<RunStatus> status(const TenantId& caller, const RunId& run);

  // ---- for hosts (kernel_host.cc, kernel_sleep.cc, kernel_artifact.cc) ----
  // How the run was started and where it is now. kNotFound for an unknown run.
  Result<RunRecord> run_record(const TenantId& caller, const RunId& run);
  // The run's steps (model tools offered and signatures, tool calls) find tools in `tools`
  // rather than tools() from now on, in this process only (a host sets it after loading the
  // run). A fork_on_drift fork inherits it. Calling again replaces it (hot reload); a tool
  // call begun before keeps the registry it began under alive. nullptr: back to tools().
  Status set_run_tools(const TenantId& caller, const RunId& run,
                       std::shared_ptr<const ToolRegistry> tools);
  // Records script_loaded {identity} unless the run's last recorded identity is the same
  // (canonical JSON). Appends nothing for a completed, failed or cancelled run.
  Status record_script(const TenantId& caller, const RunId& run, const Json& identity);

  // A durable timer at `step_key`. The first call records sleep_started {due_at_us =
  // now_us + duration_us} (synced; the run becomes sleeping); once now_us >= due_at_us a call
  // records sleep_completed (the run is running again) and returns done; after that the step
  // replays as done. The recorded due time wins over a different duration on replay: a timer
  // is not checked for drift. duration_us <= 0 completes in the first call.
  Result<SleepResult> sleep(const TenantId& caller, const RunId& run, const std::string& step_key,
                            int64_t duration_us, int64_t now_us);
  // The earliest due time of the run's sleeps started and not completed; nullopt if none.
  Result<std::optional<int64_t>> wake_time(const TenantId& caller, const RunId& run);

  // Artifacts are run summaries of kind "artifact::<key>" with payload {value}, the latest
  // winning; write_artifact is a summary step (recorded once per step_key). Keys are 1..200
  // bytes of printable ASCII.
  Status write_artifact(const TenantId& caller, const RunId& run, const std::string& step_key,
                        const std::string& key, Json value);
  Status write_artifact(const TenantId& caller, const RunId& run, const std::string& step_key,
                        const std::string& key, const ValueSource& value);
  // A value step (artifact_read) whose live value is the latest artifact `key` of the run —
  // a fork sees its parent's from before the fork point — or null when none; a replay returns
  // the value recorded then, whatever was written since.
  Result<ValueStep> read_artifact(const TenantId& caller, const RunId& run,
                                  const std::string& step_key, const std::string& key);

  // ---- operator ----
  Status raise_budget(const std::string& operator_id, const RunId& run, int64_t budget_micro_usd);
  Status grant(const std::string& operator_id, const RunId& run, const std::string& capability);

  // Extends the lease this kernel holds on the run (where its steps go now: the end of its
  // fork chain), so no other process takes over a run this one is executing, however long a
  // call takes. Call it more often than lease_ttl_us(). Nothing to do for a run it does not
  // hold yet. kFenced when another process took the run over: stop executing it.
  Status renew_lease(const TenantId& caller, const RunId& run);
  int64_t lease_ttl_us() const { return store_.lease_ttl_us(); }

  // Commits the events the store holds back (summaries: AppendRequest::deferrable), so
  // other processes see them. Any write or read of the store commits them too; a host calls
  // this when it stops executing for a while (the end of a tick).
  void flush() { store_.flush(); }
  // The run's head in the ledger (its tenant, status), whoever owns it; kNotFound if none.
  Result<RunInfo> run_info(const RunId& run) { return store_.run_info(run); }

  // Forgets the run here and releases its lease, so another process can take it.
  Status unload(const TenantId& caller, const RunId& run);
  // For a new execution of a run this process executes (a hot reload): the run's view is
  // made anew (the new execution replays from the top), keeping its lease and the calls still
  // in flight. A new execution that reaches such a call's step with the same request adopts
  // it (ModelStep/ToolStep::adopted: no second call); one that reaches it with another
  // request abandons it. Calls never reached stay the caller's to finish or drop.
  // `read_ahead`: the store reads the first batch of results the replay will ask for on its
  // own thread meanwhile (prefetch_replay).
  Status reload(const TenantId& caller, const RunId& run, bool read_ahead = true);

  // What this kernel holds in memory now.
  KernelStats stats();

  // ---- pipelined commits (KernelOptions::pipelined_commits; kernel_pipeline.cc) ----
  // The mark of `run`'s pipelined appends, its fork chain's included: a host lets nothing
  // of the run be seen outside while it is pending(), and a failed() one halted the run.
  Result<std::shared_ptr<const CommitMark>> commit_mark(const TenantId& caller, const RunId& run);
  // Called on the store's commit thread each time a pipelined append or lease write lands
  // (keep it short: wake your loop). An empty function clears it, waiting for a call in
  // progress to return.
  void set_commit_listener(std::function<void()> listener);
  // EventStore::commit_queued: a host with nothing to do but wait for its runs' commits
  // commits them on its own thread (outside any tick).
  void commit_queued() { store_.commit_queued(); }

  // ---- sources ----
  // Script sources, content-addressed and shared by every tenant (EventStore::put_blob):
  // store_source returns the hex SHA-256 a run records, load_source gets the exact bytes back
  // (nullopt when none are stored under that hash) so a run can resume under its own code.
  Result<std::string> store_source(std::string_view bytes);
  Result<std::optional<std::string>> load_source(const std::string& sha256_hex);

 private:
  friend class PendingStep;
  struct ActiveRun;
  struct LiveEntry;
  class LiveSteps;
  struct StepQuery;
  struct StepDecision;
  struct DriftDecision;
  struct RecordedValue;
  struct Held;

  Kernel(EventStore& store, KernelOptions options);

  Result<std::shared_ptr<RunState>> load(const RunId& run);
  Result<std::shared_ptr<RunState>> checked(const TenantId& caller, const RunId& run);
  // The run a step of `run` executes in — the end of its fork chain — locked, after
  // checking the caller's tenant and the step key's length.
  Result<ActiveRun> active(const TenantId& caller, const RunId& run, const std::string& step_key);
  // The end of the fork chain, locked, after checking the caller's tenant.
  Result<ActiveRun> chain_end(const TenantId& caller, const RunId& run);
  // The fork `state` continues in (loading one an earlier process created), or nullptr.
  // REQUIRES: state.mu held.
  Result<std::shared_ptr<RunState>> next_in_chain(RunState& state);
  // The registry a run's steps find tools in: its own (set_run_tools), else tools_.
  const ToolRegistry& registry_for(const RunState& state) const;

  // ---- the step machine (step_machine.cc) ----
  // The one decision every step kind goes through: replay the recorded terminal, note or
  // follow drift (moving `run` to a fork), go live, or halt (the error). REQUIRES: run locked.
  Result<StepDecision> decide(ActiveRun& run, const StepQuery& query);
  // The error for a step an ended run never recorded (sticky: it never goes live again).
  Status never_live(RunState& state, const std::string& step_key, const StepRecord* step);

  // ---- the middleware chain, in its fixed order (kernel_middleware.cc) ----
  // Every step's request, replayed ones too. `request.placeholders.numbering` defaults to
  // the run's.
  Status rewrite_request(RunState& state, const std::string& step_key, std::optional<StepKind> kind,
                         StepRequest& request);
  // Live steps: the judgements; a refusal is audited once per step and returned.
  Status judge(RunState& state, const std::string& step_key, StepKind kind,
               const StepRequest& request);
  // A live step refused (`verdict`, by `middleware`): a budget halts the run; any other
  // refusal is audited once per step and kind (step_denied) and returned.
  Status refuse(RunState& state, const std::string& step_key, StepKind kind,
                const StepRequest& request, Status verdict, std::string_view middleware);
  // The budgets of the run's ancestors that have one, with their trees' spend.
  Result<std::vector<AncestorBudget>> ancestor_budgets(const RunState& state);
  // Live steps: what the call returned, before it is recorded.
  void rewrite_result(RunState& state, const std::string& step_key, StepKind kind,
                      StepResult& result);
  // Marks the step in flight and issues the handle that owns it, once the execution holds
  // the run's lease (hold_lease): no call is made for a run another process executes.
  // REQUIRES: state.mu held.
  Result<PendingStep> open_live(std::shared_ptr<RunState> state, LiveEntry entry);
  // Takes the run's lease at its head if this execution holds none yet (an append of no
  // events): kLeaseHeld while another live process owns the run. An execution of a run this
  // process did not create holds it only from its first append, and a model step appends
  // only once answered. Pipelined like any append: the host starts the call once it lands.
  Status hold_lease(RunState& state);
  // Takes a live step of `kind` back from its handle (finish_*); invalid_argument when the
  // handle holds no pending step of that kind (it then still abandons what it holds).
  Result<std::unique_ptr<LiveEntry>> take_live(PendingStep& step, StepKind kind);
  // PendingStep's destructor: the call is forgotten, its step no longer in flight.
  void abandon(uint64_t ticket) noexcept;
  // The call an execution before a reload made at `key` of `state`, still in flight: its
  // ticket when its request is `identity` (adopted); otherwise nullopt, and a call with
  // another request is forgotten. REQUIRES: state locked.
  std::optional<uint64_t> adopt_live(RunState& state, const std::string& key, StepKind kind,
                                     const RequestIdentity& identity);

  // value_step on a run already locked by `active`.
  Result<ValueStep> value_step_locked(ActiveRun& run, const std::string& step_key, ValueKind kind,
                                      const std::function<Result<Json>()>& compute);
  // A summary step (run:summary, artifact writes) on a run locked by `active`.
  Status summary_step(ActiveRun& run, const std::string& kind, const ValueSource& value,
                      const std::string& step_key, const std::string& key = {});
  // `in_txn`: index writes that commit with the events (AppendRequest::in_txn).
  Result<AppendResult> append(RunState& state, std::vector<EventDraft> drafts,
                              std::optional<RunStatus> new_status = {}, bool barrier = false,
                              std::function<Status(AppendTxn&)> in_txn = {});
  // An append from the run's owner as it stands (lease, head); `commit` sends it and applies
  // what was appended to the state.
  static AppendRequest request_for(const RunState& state, std::vector<EventDraft> drafts);
  Result<AppendResult> commit(RunState& state, AppendRequest request);
  // The store's pipelined append of `request`, counted on the state's mark (kernel_pipeline.cc).
  Result<AppendResult> send_pipelined(RunState& state, AppendRequest request);
  // On the commit thread: a pipelined write of `run` landed with `status`.
  void landed(CommitMark& mark, const RunId& run, const Status& status);
  // A pipelined write counted before it is issued (the destructor waits for every one).
  void count_pipelined(CommitMark& mark);
  // A commit of the run failed: the state is ahead of the ledger, so the failure becomes its
  // sticky halt. REQUIRES: state.mu held.
  void note_commit_failure(RunState& state);
  // The store's append of `request` (to `run`) between the crash tests' fault points; a
  // fenced append is logged.
  Result<AppendResult> send(const RunId& run, AppendRequest request);
  // run_started (and script_loaded) for `request`; with `create`, in the commit that creates
  // the run and stores its sources.
  Status record_start(RunState& state, const StartRunRequest& request, const RunHeader* create);
  // Applies the replay policy to a step recorded with another request: an error (strict:
  // the run halts), the recorded result with the drift noted once (allow_prompt_drift), or a
  // fork to continue in (fork_on_drift).
  // A live call returning after its run ended (a cancel cuts calls off) records nothing: the
  // run's end stays its last event. The error says why the run ended (step_machine.cc).
  Status ended_during_call(const RunState& state, const std::string& step_key);
  // A script identity's canonical text, or invalid_argument when it is not an object.
  Result<std::string> check_script_identity(const RunId& run, const Json& identity);
  Result<DriftDecision> resolve_drift(RunState& state, const std::string& step_key,
                                      ReplayPolicy policy, const StepRecord& recorded,
                                      RequestIdentity& identity, int depth);
  Status settle_unknown_outcomes(RunState& state);
  Result<std::shared_ptr<RunState>> fork_for(RunState& parent, const StepRecord& recorded,
                                             const std::string& request_hash);
  Status halt(RunState& state, Status error, RunStatus status, const Json& detail);
  // Halts in needs_attention with `error` ({kind, message, step_key, where, traceback}).
  Status hold(RunState& state, const Json& error);
  // A replayed step's terminal: kept from an earlier execution here, else read from the
  // ledger (in batches: step_machine.cc) and kept for the next.
  Result<RecordedTerminal> read_terminal(RunState& state, const std::string& step_key,
                                         StepRecord& step);
  // read_terminal's read from the ledger: the inlined value, the read ahead, or a batch read.
  Result<RecordedTerminal> read_recorded(RunState& state, const std::string& step_key,
                                         const StepRecord& step);
  // The batch read_terminal reads for the terminal at `seq`: it and the loaded steps'
  // terminals after it, in seq order (empty when `seq` is not one of them).
  static std::vector<uint64_t> terminal_batch(RunState& state, uint64_t seq);
  // Has the store read the first batch a new execution's replay will ask for on its own
  // thread (a hot reload restarting many runs: each batch is ready when its replay begins).
  void prefetch_replay(RunState& state);
  // The halt for a side effect whose outcome is unknown (live and on replay alike).
  Status reconciliation_halt(RunState& state, const std::string& step_key, StepKind kind);
  // cancel() of one run, naming the children it started that have not ended.
  Result<CancelResult> cancel_one(RunState& state, const std::string& reason,
                                  std::vector<RunId>& children);
  // Appends run_cancelled (as the run's owner) and makes `cancelled` the run's sticky halt.
  Status apply_cancel(RunState& state, const std::string& reason);
  // Folds in what other processes appended since the state's head (an operator's request).
  Status catch_up(RunState& state);
  Status lifecycle(const TenantId& caller, const RunId& run, std::string_view type, Json payload,
                   RunStatus new_status);

  EventStore& store_;
  ToolRegistry tools_;
  PolicyMode mode_ = PolicyMode::kPermissive;
  std::vector<std::shared_ptr<Middleware>> middleware_;                   // in the fixed order
  std::function<void(const Event&, std::optional<RunStatus>)> on_event_;  // KernelOptions
  bool values_rewritten_ = false;         // some middleware rewrites_values()
  bool pipelined_ = false;                // KernelOptions::pipelined_commits
  std::shared_ptr<KeptBudget> kept_;      // KernelOptions::kept_result_bytes; null when 0
  std::unique_ptr<SchemaCache> schemas_;  // model steps' output schemas, compiled once
  std::unique_ptr<Held> held_;            // the runs loaded and the live steps (step_machine.h)
};

}  // namespace artana::kernel
