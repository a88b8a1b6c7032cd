// ErrorKind: the kinds of error a script, an embedding app and a scheduler see, in one table.
// Each row says the name a script reads in `err.kind`, whether the error halts the run
// (sticky: every later step raises it again and the run ends with it), whether trying again
// later can succeed, the `artana` exit code it means, and what a C API call returns for it. The
// kernel (Status::error_kind), the Lua boundary (BoundaryError), the host, the C API and the CLI
// read this table and nothing else; docs/cli.md lists it, and a test checks the README's exit codes
// against it.
//
// Errors without a kind (a Status the kernel returns for its own reasons: disk full, a
// corrupt page, a stale lease) reach scripts through visible_kind(): storage_error,
// lease_held, internal, … never as raw internal codes.
//
// constexpr data: thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace artana {

// The `artana` CLI's exit codes: each tells a scheduler what to do next.
namespace exit_code {
inline constexpr int kOk = 0;                 // done (a run: completed)
inline constexpr int kFailed = 1;             // a run failed or a script raised
inline constexpr int kUsage = 2;              // bad arguments: fix the command line
inline constexpr int kPaused = 3;             // paused or sleeping: resume it later
inline constexpr int kNeedsAttention = 4;     // drift or reconciliation: an operator acts
inline constexpr int kBudget = 5;             // budget exceeded: raise it, resume
inline constexpr int kDenied = 6;             // capability or policy denied
inline constexpr int kCancelled = 7;          // cancelled
inline constexpr int kLedgerUnavailable = 8;  // the ledger cannot be used, or another owner
inline constexpr int kNotFound = 9;           // no such run
inline constexpr int kLedgerInvalid = 10;     // verify found a bad run / seq
inline constexpr int kInternal = 70;          // a bug (EX_SOFTWARE)
inline constexpr std::array<int, 12> kAll = {kOk,       kFailed,         kUsage,
                                             kPaused,   kNeedsAttention, kBudget,
                                             kDenied,   kCancelled,      kLedgerUnavailable,
                                             kNotFound, kLedgerInvalid,  kInternal};
}  // namespace exit_code

// What the C API (artana.h) returns for an error of a kind: the artana_status values, in
// their order (host/src/capi checks each against artana.h).
enum class EmbedStatus : uint8_t {
  kOk,
  kInvalidArgument,
  kNotFound,
  kState,
  kScript,
  kDenied,
  kBudget,
  kDrift,
  kStorage,
  kAbi,
  kCancelled,
  kInternal,
};

enum class ErrorKind : uint8_t {
  kNone,  // no kind: ok, or an error whose kind visible_kind() derives
  kScriptError,
  kInvalidArgument,
  kNotFound,
  kInvalidState,
  kSandboxViolation,
  kLimitExceeded,
  kReplayDrift,
  kReconciliationRequired,
  kBudgetExceeded,
  kCapabilityDenied,
  kPolicyViolation,
  kCancelled,
  kToolFailed,
  kModelFailed,
  kModelOutputInvalid,
  kModelRefused,
  kTransientError,
  kPermanentError,
  kLeaseHeld,
  kStorageError,
  kInternal,
  // Raised by the stdlib (stdlib/*.lua, through artana.fail).
  kHarnessState,
  kTaskInvalid,
  kChildFailed,
  kAgentExhausted,
  kGraphInvalid,
};

struct ErrorKindRow {
  ErrorKind kind;
  std::string_view name;  // what err.kind says
  bool halts;             // sticky: the run stops at it until an operator acts
  bool retryable;         // trying again later (or with retry_failed) can succeed
  int exit_code;          // what `artana` exits with when a run or command ends with it
  EmbedStatus embed;      // what a C API call failing with it returns
  std::string_view meaning;
};

inline constexpr std::array<ErrorKindRow, 27> kErrorKinds = {{
    {ErrorKind::kNone, "", false, false, exit_code::kFailed, EmbedStatus::kInternal, "no kind"},
    {ErrorKind::kScriptError, "script_error", false, false, exit_code::kFailed,
     EmbedStatus::kScript,
     "the script raised an error (its own kind, if any, is kept as script_kind)"},
    {ErrorKind::kInvalidArgument, "invalid_argument", false, false, exit_code::kUsage,
     EmbedStatus::kInvalidArgument, "a call's arguments are malformed: fix the call"},
    {ErrorKind::kNotFound, "not_found", false, false, exit_code::kNotFound, EmbedStatus::kNotFound,
     "no such run, step, tool or module"},
    {ErrorKind::kInvalidState, "invalid_state", false, false, exit_code::kNeedsAttention,
     EmbedStatus::kState, "not allowed now (a step in flight, a run already ended or paused)"},
    {ErrorKind::kSandboxViolation, "sandbox_violation", false, false, exit_code::kFailed,
     EmbedStatus::kScript, "the script touched what the sandbox removes"},
    {ErrorKind::kLimitExceeded, "limit_exceeded", true, false, exit_code::kFailed,
     EmbedStatus::kScript, "the instruction or memory limit ended the execution (uncatchable)"},
    {ErrorKind::kReplayDrift, "replay_drift", true, false, exit_code::kNeedsAttention,
     EmbedStatus::kDrift,
     "a recorded step was reached with another request or kind: fix the code, resume"},
    {ErrorKind::kReconciliationRequired, "reconciliation_required", true, false,
     exit_code::kNeedsAttention, EmbedStatus::kState,
     "a side effect may or may not have happened: artana reconcile decides"},
    {ErrorKind::kBudgetExceeded, "budget_exceeded", true, false, exit_code::kBudget,
     EmbedStatus::kBudget, "the run spent its budget: raise it (resume --budget)"},
    {ErrorKind::kCapabilityDenied, "capability_denied", false, false, exit_code::kDenied,
     EmbedStatus::kDenied, "the tenant lacks the capability a tool needs (resume --grant)"},
    {ErrorKind::kPolicyViolation, "policy_violation", false, false, exit_code::kDenied,
     EmbedStatus::kDenied, "a policy refused the step"},
    {ErrorKind::kCancelled, "cancelled", true, false, exit_code::kCancelled,
     EmbedStatus::kCancelled, "the run was cancelled"},
    {ErrorKind::kToolFailed, "tool_failed", false, false, exit_code::kFailed, EmbedStatus::kScript,
     "a tool step ended in failure (retry_failed retries a transient one)"},
    {ErrorKind::kModelFailed, "model_failed", false, true, exit_code::kFailed, EmbedStatus::kScript,
     "a model call failed (retry_failed asks again)"},
    {ErrorKind::kModelOutputInvalid, "model_output_invalid", false, true, exit_code::kFailed,
     EmbedStatus::kScript, "the model's output missed the step's schema (retry_failed asks again)"},
    {ErrorKind::kModelRefused, "model_refused", false, true, exit_code::kFailed,
     EmbedStatus::kScript, "the model declined to answer (retry_failed asks again)"},
    {ErrorKind::kTransientError, "transient_error", false, true, exit_code::kFailed,
     EmbedStatus::kState, "raised by a tool or port: nothing happened, try again later"},
    {ErrorKind::kPermanentError, "permanent_error", false, false, exit_code::kFailed,
     EmbedStatus::kScript, "raised by a tool or port: nothing happened, it failed"},
    {ErrorKind::kLeaseHeld, "lease_held", false, true, exit_code::kLedgerUnavailable,
     EmbedStatus::kStorage, "another live process owns the run"},
    {ErrorKind::kStorageError, "storage_error", false, true, exit_code::kLedgerUnavailable,
     EmbedStatus::kStorage,
     "the ledger cannot be written or read (disk full, permissions, damage)"},
    {ErrorKind::kInternal, "internal", false, false, exit_code::kInternal, EmbedStatus::kInternal,
     "a bug in the host: please report it"},
    {ErrorKind::kHarnessState, "harness_state", false, false, exit_code::kFailed,
     EmbedStatus::kScript,
     "a harness's units broke its rules (two done in one wake, one in progress at sleep)"},
    {ErrorKind::kTaskInvalid, "task_invalid", false, false, exit_code::kFailed,
     EmbedStatus::kScript,
     "define_tasks gave no units, a duplicate or empty id, or a unit without a description"},
    {ErrorKind::kChildFailed, "child_failed", false, false, exit_code::kFailed,
     EmbedStatus::kScript, "a child run failed or was cancelled"},
    {ErrorKind::kAgentExhausted, "agent_exhausted", false, false, exit_code::kFailed,
     EmbedStatus::kScript, "an agent reached max_iterations without an accepted answer"},
    {ErrorKind::kGraphInvalid, "graph_invalid", false, false, exit_code::kFailed,
     EmbedStatus::kScript, "an orchestration graph names an unknown node or has a cycle"},
}};

static_assert(
    [] {
      for (size_t i = 0; i < kErrorKinds.size(); ++i) {
        if (static_cast<size_t>(kErrorKinds[i].kind) != i) return false;
      }
      return true;
    }(),
    "kErrorKinds rows are in ErrorKind order");

constexpr const ErrorKindRow& error_kind_row(ErrorKind kind) {
  return kErrorKinds[static_cast<size_t>(kind)];
}
constexpr std::string_view error_kind_name(ErrorKind kind) { return error_kind_row(kind).name; }

// Whether a library (the stdlib's harness, agent, orchestrate) must let an error of this
// kind propagate untouched rather than count it as a failed unit, node, gate or tool: a
// halt, or the host's own trouble (the ledger unavailable, a bug). The prelude's
// artana.passes_through reads this.
constexpr bool passes_through_libraries(const ErrorKindRow& row) {
  return row.halts || row.exit_code == exit_code::kLedgerUnavailable ||
         row.kind == ErrorKind::kInternal;
}

// The kind named `name`, or nullopt for a name no row has (a script's own kind).
constexpr std::optional<ErrorKind> parse_error_kind(std::string_view name) {
  if (name.empty()) return std::nullopt;
  for (const ErrorKindRow& row : kErrorKinds) {
    if (row.name == name) return row.kind;
  }
  return std::nullopt;
}

}  // namespace artana
