// Kernel: how an execution of a run ends — the one place that decides whether a run is
// completed, failed, held for attention or left as it is (Kernel::end_execution).
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"

namespace artana::kernel {
namespace {

namespace ev = events;

const std::string* string_field(const Json& json, std::string_view name) {
  const Json* value = json.find(name);
  return value != nullptr && value->is_string() ? &value->as_string() : nullptr;
}

// The table's kind named `name`; a name no row has (a script's own) or none is `fallback`.
ErrorKind kind_named(const std::string* name, ErrorKind fallback) {
  if (name == nullptr) return fallback;
  return parse_error_kind(*name).value_or(ErrorKind::kScriptError);
}

Json halt_json(const Status& halt) {
  Json error = Json::object(
      {{"kind", error_kind_name(visible_kind(halt))}, {"message", visible_message(halt)}});
  if (!halt.step_key().empty()) error.set("step_key", halt.step_key());
  return error;
}

// Running, paused or sleeping: the run still expects its script to go on.
bool open_status(RunStatus status) {
  return status == RunStatus::kRunning || status == RunStatus::kPaused ||
         status == RunStatus::kSleeping;
}

// The error is a capability_denied refusal of a step the run has not recorded since.
bool refused_for_a_grant(const RunState& state, const Json& error) {
  const std::string* kind = string_field(error, "kind");
  const std::string* step_key = string_field(error, "step_key");
  if (kind == nullptr || step_key == nullptr ||
      kind_named(kind, ErrorKind::kNone) != ErrorKind::kCapabilityDenied) {
    return false;
  }
  auto step = state.steps.find(*step_key);
  return step != state.steps.end() && step->second.denied_seq != 0 &&
         step->second.denied_kind == ErrorKind::kCapabilityDenied && !step->second.recorded();
}

}  // namespace

Result<RunEnd> Kernel::end_execution(const TenantId& caller, const RunId& run,
                                     const ExecutionEnd& end) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, run));
  RunState& state = *active_run.state;
  RunEnd out;
  out.run_id = state.run_id;
  out.status = state.status;
  using Kind = ExecutionEnd::Kind;
  switch (end.kind) {
    case Kind::kIdle:
      if (state.halt) {
        out.error = halt_json(*state.halt);
      } else if (state.child_wait && !state.child_wait->error.is_null()) {
        out.error = state.child_wait->error;  // held by a child: its error is the run's
      }
      return out;

    case Kind::kReturned:
      if (state.status == RunStatus::kCompleted) {
        out.output = end.output;
        return out;
      }
      // A halt the script caught with pcall still ends the run halted.
      if (state.halt) {
        out.error = halt_json(*state.halt);
        return out;
      }
      // The entry returned: the run is done, even if an older execution left it paused or
      // sleeping at a step this code no longer reaches.
      if (!open_status(state.status)) return out;
      ARTANA_RETURN_IF_ERROR(
          append(state,
                 event_drafts(EventDraft{std::string(ev::kRunCompleted),
                                         Json::object({{"output", end.output}})}),
                 RunStatus::kCompleted, /*barrier=*/true)
              .status());
      out.status = RunStatus::kCompleted;
      out.output = end.output;
      return out;

    case Kind::kRaised: {
      out.error = state.halt ? halt_json(*state.halt) : end.error;
      // Another process owns the run, or the ledger failed under it (a full disk, damage):
      // this execution stops and the run stays as it is, to go on once the ledger is fixed.
      // Neither is the script's doing (a kind a script wrote is script_error by now).
      const std::string* kind = string_field(end.error, "kind");
      const ErrorKind raised = kind_named(kind, ErrorKind::kNone);
      if (raised == ErrorKind::kLeaseHeld || raised == ErrorKind::kStorageError) {
        out.error = end.error;
        return out;
      }
      if (!state.halt && state.status == RunStatus::kCompleted) {
        // The recorded run returned; this code raises where it did: the code no longer
        // reproduces its run (the run stays completed, and the caller is told).
        const std::string* message = string_field(end.error, "message");
        out.error = halt_json(
            Status::failed_precondition(
                "run '{}' completed, but this execution of its code raised: {}; the code no "
                "longer reproduces the recorded run",
                state.run_id.str(), message != nullptr ? *message : "an error")
                .with_kind(ErrorKind::kReplayDrift));
        if (const Json* where = end.error.find("where")) out.error.set("where", *where);
        return out;
      }
      if (state.halt || !open_status(state.status)) return out;
      // New code that breaks on old history is the code's fault, not the run's: it waits
      // for a fix in needs_attention instead of failing for good.
      if (state.replaying()) {
        (void)hold(state, end.error);
        out.status = state.status;
        return out;
      }
      if (state.status != RunStatus::kRunning) return out;  // paused or sleeping stays so
      // A step refused for want of a capability, still open: the operator can grant it
      // (artana resume --grant), so the run waits for that in needs_attention rather than
      // failing for good — the grant would come too late for a failed run.
      if (refused_for_a_grant(state, end.error)) {
        (void)hold(state, end.error);
        out.status = state.status;
        return out;
      }
      ARTANA_RETURN_IF_ERROR(append(state,
                                    event_drafts(EventDraft{std::string(ev::kRunFailed),
                                                            Json::object({{"error", end.error}})}),
                                    RunStatus::kFailed, /*barrier=*/true)
                                 .status());
      out.status = RunStatus::kFailed;
      return out;
    }

    case Kind::kKilled: {
      out.error = end.error;
      if (run_ended(state.status)) return out;
      const std::string* kind = string_field(end.error, "kind");
      if (kind_named(kind, ErrorKind::kNone) == ErrorKind::kInternal) {
        // The host failed, not the run: it waits in needs_attention for a fixed host.
        (void)hold(state, end.error);
      } else {
        ARTANA_RETURN_IF_ERROR(
            append(state,
                   event_drafts(EventDraft{std::string(ev::kRunFailed),
                                           Json::object({{"error", end.error}})}),
                   RunStatus::kFailed, /*barrier=*/true)
                .status());
        state.halt =
            Status::failed_precondition(
                "run '{}' was stopped: {}", state.run_id.str(),
                string_field(end.error, "message") ? *string_field(end.error, "message") : "killed")
                .with_kind(kind_named(kind, ErrorKind::kLimitExceeded));
      }
      out.status = state.status;
      return out;
    }
  }
  return out;
}

Status Kernel::hold(RunState& state, const Json& error) {
  if (!open_status(state.status)) {
    return Status::failed_precondition("run '{}' is {}, not running", state.run_id.str(),
                                       run_status_name(state.status));
  }
  const std::string* kind = string_field(error, "kind");
  const std::string* message = string_field(error, "message");
  const std::string* step_key = string_field(error, "step_key");
  Status halted =
      Status::failed_precondition("{}", message ? *message : "held for attention")
          .with_kind(kind_named(kind, ErrorKind::kScriptError), step_key ? *step_key : "");
  Json detail = Json::object();
  for (const char* field : {"where", "traceback"}) {
    if (const Json* value = error.find(field)) detail.set(field, *value);
  }
  Status result = halt(state, halted, RunStatus::kNeedsAttention, detail);
  return result.code() == halted.code() && result.message() == halted.message() ? Status() : result;
}

Status Kernel::hold_for_attention(const TenantId& caller, const RunId& run, const Json& error) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, run));
  return hold(*active_run.state, error);
}

}  // namespace artana::kernel
