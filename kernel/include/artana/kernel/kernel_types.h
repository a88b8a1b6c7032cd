// The kernel's vocabulary: tenant context, replay policies, requests and results of steps,
// and the kinds of errors a script can act on. Value types, thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/event.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/json.h"
#include "artana/kernel/pending_step.h"
#include "artana/kernel/status.h"
#include "artana/kernel/step_kind.h"

namespace artana::kernel {

// Set by the operator when a run starts and kept in the run (run_started); callers never
// widen it per call. Only operator calls (raise_budget, grant) do, each recorded as an event.
struct TenantContext {
  TenantId tenant_id;
  std::vector<std::string> capabilities;    // kept sorted, without duplicates
  std::optional<int64_t> budget_micro_usd;  // nullopt: no budget set (unlimited)

  bool has_capability(std::string_view capability) const;
  Json to_json() const;
  static Result<TenantContext> from_json(const Json& json);
};

// What happens when a recorded step is reached with a different request.
enum class ReplayPolicy {
  kStrict,            // halt in needs_attention with replay_drift: fix the code, resume
  kAllowPromptDrift,  // return the recorded result, note replayed_with_drift once
  kForkOnDrift,       // continue live in <run>::fork::<12 hex>, sharing the history before
};
std::string_view replay_policy_name(ReplayPolicy policy);
Result<ReplayPolicy> parse_replay_policy(std::string_view name);

struct StartRunRequest {
  std::optional<RunId> run_id;  // issued by the kernel when absent
  TenantContext tenant;
  std::string script_hash;  // hex SHA-256 of the script and its modules, or empty
  Json input;               // the entry's argument
  ReplayPolicy replay = ReplayPolicy::kStrict;  // the run's default; a step may override
  std::optional<RunId> parent_run_id;
  Json metadata = Json::object();  // recorded in run_started as is
  // When an object: the script's identity, recorded as script_loaded in run_started's commit
  // (Kernel::record_script then finds it recorded: a new run costs one commit less).
  Json script_identity;
  // Script sources to keep content-addressed (Kernel::store_source), stored in the commit
  // that creates the run: script_loaded names them, so they are durable with it.
  std::vector<std::string> sources;
};

// A value its caller holds in a form of its own (a script's table) until the kernel needs
// it: written as canonical JSON for a request's hash without being built (a replayed step),
// built when the value itself is needed (a live call, a value-rewriting middleware, a drift
// report). Borrowed for the call it is passed to; both functions fail alike for a value
// that is not JSON.
class JsonSource {
 public:
  virtual ~JsonSource() = default;
  virtual Status append_canonical(std::string& out) const = 0;  // RFC 8785, as canonical_json
  virtual Result<Json> build() const = 0;
};

struct ModelRequest {
  std::string step_key;
  std::string model;
  std::optional<std::string> prompt;  // exactly one of prompt, messages and messages_source
  std::optional<Json> messages;       // an array of message objects
  const JsonSource* messages_source = nullptr;  // the same, built only if needed
  Json options = Json::object();  // temperature, max_tokens, … as the port understands
  // JSON Schema the output must meet. Checked by the kernel when the call finishes: an output
  // that misses it is the step's failure (model_failed, category invalid_output), raised as
  // model_output_invalid live and on replay; retry_failed asks again.
  std::optional<Json> output_schema;
  std::vector<std::string> tools;      // names of the tools offered
  std::optional<ReplayPolicy> replay;  // overrides the run's policy for this step
  bool retry_failed = false;           // a recorded failure is retried live, not replayed
  // A replayed result may come back as its recorded text (ModelResult::recorded_payload):
  // for a caller that converts it anyway (the Lua host), not parsing it saves the tree.
  bool result_as_text = false;
  // Decided only if the step replays a result kept in memory (Kernel::reload), unchanged and
  // succeeded; otherwise nothing at all happens — no read, no halt, no drift noted, no call
  // adopted or opened — and the step comes back `deferred`, to be begun again without this.
  // For a caller that replays on another thread and leaves every other case to the thread
  // that owns the run.
  bool replay_only = false;
};

// Why a model (or outside-world) call failed, as model_failed records it (`error.category`).
// A script sees model_output_invalid for kInvalidOutput, model_refused for kRefused, else
// model_failed; kTimeout and kTransient are worth retrying later.
enum class FailureCategory { kTimeout, kTransient, kPermanent, kInvalidOutput, kRefused };
std::string_view failure_category_name(FailureCategory category);

// What a model port reports. The kernel records it as the step's terminal event.
struct ModelOutcome {
  bool ok = true;
  Json output;                      // when ok
  Json usage = Json::object();      // prompt_tokens, completion_tokens, … (billed, even failed)
  Json tool_calls = Json::array();  // [{name, arguments}]
  std::optional<int64_t> cost_micro_usd;  // nullopt: the port does not know the cost
  bool transient = false;                 // when !ok: worth retrying later
  std::string error;                      // when !ok: what went wrong
  // When !ok, why (a Lua port's failure has none: `transient` alone says it). Implies
  // `transient` for kTimeout and kTransient.
  std::optional<FailureCategory> category;
  // How an HTTP port got the answer ({api_mode, endpoint, response_id, request_id,
  // http_status, attempts, elapsed_ms}), recorded in model_completed and in model_failed's
  // error; null for a Lua port.
  Json call;
};

struct ModelResult {
  RunId run_id;  // the run the step is recorded in: a fork after fork_on_drift
  Json output;
  Json usage;
  Json tool_calls;
  int64_t cost_micro_usd = 0;
  bool replayed = false;
  uint64_t seq = 0;                       // of the terminal event
  std::vector<std::string> drift_fields;  // allow_prompt_drift: what differed
  // Replayed with ModelRequest::result_as_text: the terminal's payload, canonical JSON text of
  // an object whose members "output", "usage" and "tool_calls" are the result (the three
  // fields above and the cost are then left empty). Not validated: an edited payload hashed
  // again may not be JSON, which the reader of this text reports as corruption.
  std::string recorded_payload;
};

// What to send to the model port for a live step: the request after middleware (PII
// placeholders in, tools the tenant lacks out).
struct ModelCall {
  RunId run_id;
  std::string step_key;
  std::string model;
  std::optional<std::string> prompt;
  std::optional<Json> messages;
  Json options;
  std::optional<Json> output_schema;
  Json tools = Json::array();  // [{name, description, arguments (JSON Schema)}]
};

// begin_model: the recorded result, or a call to make and finish later with `pending`.
struct ModelStep {
  std::optional<ModelResult> replayed;
  std::optional<ModelCall> call;
  PendingStep pending;  // set with `call`: hand it to finish_model
  // Set instead of the others when an earlier execution of this run in this process (before
  // Kernel::reload) made the same call at this step and it has not finished: no second
  // call; its result is this step's. The ticket is that call's PendingStep::ticket().
  std::optional<uint64_t> adopted;
  // ModelRequest::replay_only, and the step is not such a replay: nothing was done.
  bool deferred = false;
};

struct ToolRequest {
  std::string step_key;
  std::string tool;
  Json arguments = Json::object();
  std::optional<ReplayPolicy> replay;  // overrides the run's policy for this step
  // A recorded transient failure is retried live; so is any failure of a tool declared
  // without side effects.
  bool retry_failed = false;
  // Asked once the step goes live, after the kernel's own judges and before anything is
  // recorded: an error fails the call with nothing appended. What a host's operator allows
  // (run:http's hosts and secrets) is checked here, so a recorded step replays without it.
  std::function<Status(const struct ToolCall&)> live_check;
};

enum class ToolOutcomeKind { kSuccess, kTransientError, kPermanentError, kUnknownOutcome };
std::string_view tool_outcome_name(ToolOutcomeKind kind);
Result<ToolOutcomeKind> parse_tool_outcome(std::string_view name);

// What a tool reports; recorded as the step's tool_completed.
struct ToolOutcome {
  ToolOutcomeKind kind = ToolOutcomeKind::kSuccess;
  Json result;        // kSuccess
  std::string error;  // otherwise
  // False when the tool failed without saying whether its effect happened (it raised an
  // error of its own, or returned what cannot be recorded): for a side-effecting tool the
  // kernel then records unknown_outcome and halts for reconciliation, as after a crash.
  bool declared = true;
  // The kind the script's error has (recorded, so a replay raises it too); none: tool_failed.
  // A built-in refusing what the operator did not allow mid-call (a redirect to a host not
  // allowed): policy_violation.
  std::optional<ErrorKind> error_kind;
};

// What to run for a live tool step. Its request is already committed (and synced in
// `effects` mode for a side-effecting tool) when the caller gets this.
struct ToolCall {
  RunId run_id;
  TenantId tenant_id;
  std::string step_key;
  std::string tool;
  Json arguments;
  std::string idempotency_key;  // SHA-256 hex of canonical [run_id, tool, step_key]
  bool side_effect = false;
  std::string capability;            // what the tool requires of the tenant; empty: nothing
  bool capability_required = false;  // ToolSpec::capability_required
};

struct ToolResult {
  RunId run_id;
  ToolOutcomeKind outcome = ToolOutcomeKind::kSuccess;
  Json result;
  bool replayed = false;
  uint64_t seq = 0;
  std::vector<std::string> drift_fields;
};

struct ToolStep {
  std::optional<ToolResult> replayed;
  std::optional<ToolCall> call;
  PendingStep pending;  // set with `call`: hand it to finish_tool
  // Set instead of the others when an earlier execution of this run in this process (before
  // Kernel::reload) made the same call at this step and it has not finished: no second
  // call; its result is this step's. The ticket is that call's PendingStep::ticket().
  std::optional<uint64_t> adopted;
  // ModelRequest::replay_only, and the step is not such a replay: nothing was done.
  bool deferred = false;
};

// Steps whose value the kernel records without a port call: what a script reads from the
// world (the time, a random number) or computes once (a memoised step, a version marker, an
// artifact read). Live, the value is computed and recorded; replayed, the recorded value
// comes back and nothing is computed.
// Each is a StepKind (step_kind.h) and shares its number.
enum class ValueKind : uint8_t {
  kTime = static_cast<uint8_t>(StepKind::kTime),
  kRandom = static_cast<uint8_t>(StepKind::kRandom),
  kStep = static_cast<uint8_t>(StepKind::kStep),
  kVersion = static_cast<uint8_t>(StepKind::kVersion),
  kArtifactRead = static_cast<uint8_t>(StepKind::kArtifactRead),
  kMemory = static_cast<uint8_t>(StepKind::kMemory),
  kLookup = static_cast<uint8_t>(StepKind::kLookup),
};
constexpr StepKind step_kind(ValueKind kind) { return static_cast<StepKind>(kind); }
// "time", "random", "step", …
constexpr std::string_view value_kind_name(ValueKind kind) {
  return step_kind_name(step_kind(kind));
}

// run:child's step (Kernel::begin_child): a child run of the caller's, started from the step.
struct ChildRequest {
  std::string step_key;
  RunId child_run_id;
  std::string script;  // as the caller names it (its folder's relative path)
  std::optional<std::vector<std::string>> capabilities;  // none: the caller's
  std::optional<int64_t> budget_micro_usd;               // none: the caller's remainder
  Json input = Json::object();
};
inline constexpr int kMaxChildDepth = 8;  // a run and 8 generations below it at most

struct ChildStep {
  enum class State {
    kEnded,    // the child ended (recorded): `completion` is child_completed's payload
    kExecute,  // execute the child: started now (child_started recorded), or again after a stop
  };
  State state = State::kEnded;
  RunId child_run_id;
  bool replayed = false;  // kEnded: read back from the ledger
  Json completion;        // {status, output} | {status, error}
  // kExecute: the child's start (its tenant context as recorded in child_started, its input,
  // replay policy, parent and seed); a child that exists is executed again as it is.
  StartRunRequest start;
};

// How a child run stood when it stopped: ended (completed, failed, cancelled), or stopped
// paused, sleeping or needing attention (it holds its parent).
struct ChildEnd {
  RunStatus status = RunStatus::kCompleted;
  Json output;                       // completed
  Json error;                        // failed, cancelled, needs_attention: {kind, message, …}
  std::optional<int64_t> due_at_us;  // sleeping: when it wakes
};

// run:lookup's question (Kernel::lookup).
struct LookupRequest {
  std::string kind;
  SummaryScope scope = SummaryScope::kRun;
  int64_t limit = 20;  // 1..kMaxLookupLimit
};
inline constexpr int64_t kMaxLookupLimit = 1000;

struct ValueStep {
  RunId run_id;
  Json value;
  bool replayed = false;
  uint64_t seq = 0;
};

// An operator's decision on a tool step whose outcome is unknown.
struct ReconcileDecision {
  enum class Kind { kRetry, kSuccess, kFailed, kAbandon };
  Kind kind = Kind::kRetry;
  Json result;        // kSuccess: what the tool really returned
  std::string error;  // kFailed: what really went wrong
};

// A durable timer step (Kernel::sleep). Not done: the run sleeps until due_at_us; call sleep
// again with the same step key once the clock has passed it.
struct SleepResult {
  bool done = false;
  int64_t due_at_us = 0;  // as recorded when the sleep started
  bool replayed = false;  // done in an earlier call: the recorded sleep_completed
  uint64_t seq = 0;       // of sleep_completed when done, else of sleep_started
};

// How one execution of a run's script ended, as the host saw it. The kernel decides what it
// means for the run (Kernel::end_execution).
struct ExecutionEnd {
  enum class Kind {
    kReturned,  // the entry returned `output`
    kRaised,    // the entry raised `error`
    kKilled,    // the execution was stopped: `error` says why (limit_exceeded, internal)
    kIdle,      // nothing left to do for now: every task waits for a pause's input or a timer
  };
  Kind kind = Kind::kReturned;
  Json output;
  Json error;  // {kind, message, step_key?, where?, traceback?}
};

// Where a run stands after an execution ended: what the host reports and exits with.
// What Kernel::cancel did.
enum class CancelResult {
  kCancelled,  // run_cancelled is recorded: nobody else was executing the run
  kRequested,  // another live process executes it: cancel_requested is recorded for its owner
};

struct RunEnd {
  RunId run_id;  // where the run went on: the end of its fork chain
  RunStatus status = RunStatus::kRunning;
  Json output;  // completed: the entry's return value
  Json error;   // the halt or failure, when there is one; null otherwise
};

// The exit code a scheduler acts on when a run stands at `status` with `error` (its kind, or
// kNone): a kind that asks for an operator's action (needs attention, budget, denied,
// cancelled, another owner, storage) decides; otherwise the status does (completed and
// running 0, paused and sleeping 3, needs_attention 4, failed 1, cancelled 7).
int exit_code_for(RunStatus status, ErrorKind error);
// The exit code of a command that failed with `status` (error_kind.h's table).
int exit_code_for(const Status& status);

// What a kernel holds in memory now (Kernel::stats): tests prove that killed, reloaded and
// unloaded runs leave nothing behind.
struct KernelStats {
  size_t loaded_runs = 0;              // runs with state in memory (fork chains count each run)
  size_t pending_steps = 0;            // live steps begun and neither finished nor abandoned
  size_t steps_held = 0;               // step records of the loaded runs
  size_t bytes_held = 0;               // an estimate of the memory the loaded runs' records take
  size_t kept_result_bytes = 0;        // recorded results kept for replays (KernelOptions)
  uint64_t kept_results_replayed = 0;  // replayed steps of the loaded runs they answered
};

// What a host needs to resume a run: how it was started, what it is now.
struct RunRecord {
  RunId run_id;
  TenantContext tenant;  // current: after raise_budget / grant
  std::string script_hash;
  Json input;  // as recorded in run_started (PII replaced)
  ReplayPolicy replay = ReplayPolicy::kStrict;
  std::optional<RunId> parent_run_id;
  Json metadata = Json::object();  // as given to start_run
  RunStatus status = RunStatus::kRunning;
  // Where the run's steps go now: the end of its fork chain (fork_on_drift) as known to this
  // kernel; run_id when it never forked here.
  RunId active_run_id;
  Json script;  // the identity last recorded by record_script; null when none
  // False for a run created but whose run_started was never recorded (the process died in
  // between): start_run with the same id and tenant finishes starting it.
  bool started = true;
};

}  // namespace artana::kernel
