// Kernel: summaries — what a run reports about itself (run_summary) and looks up again by
// key (run:lookup) — and artifacts, named values a run publishes (a report, a plan) and
// reads back.
//
// Stored as Python Artana stored them: a run_summary of kind "artifact::<key>" with payload
// {value}, the latest of a kind winning. A write is a summary step (once per step key); a
// read is a value step (artifact_read), so a replay gets the value it saw then even if the
// artifact was written again later.
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"

namespace artana::kernel {
namespace {

namespace ev = events;

constexpr size_t kMaxArtifactKeyBytes = 200;

// Printable ASCII only: keys end up in kinds, file names and log lines.
Status check_artifact_key(const std::string& key) {
  bool printable = !key.empty() && key.size() <= kMaxArtifactKeyBytes;
  for (char c : key) printable = printable && c >= 0x20 && c <= 0x7e;
  if (printable) return Status();
  return Status::invalid_argument("artifact key '{}' must be 1..{} bytes of printable ASCII", key,
                                  kMaxArtifactKeyBytes);
}

bool reserved_summary_kind(std::string_view kind) {
  for (std::string_view prefix : {"policy", "approval", "intent"}) {
    if (kind.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

}  // namespace

Status Kernel::summary(const TenantId& caller, const RunId& run, const std::string& kind,
                       Json value, const std::string& step_key, const std::string& key) {
  return summary(
      caller, run, kind, [&value]() -> Result<Json> { return std::move(value); }, step_key, key);
}

Status Kernel::summary(const TenantId& caller, const RunId& run, const std::string& kind,
                       const ValueSource& value, const std::string& step_key,
                       const std::string& key) {
  if (reserved_summary_kind(kind)) {
    return Status::permission_denied(
               "summary kind '{}' is reserved for the kernel (policy, approval and intent records)",
               kind)
        .with_kind(ErrorKind::kPolicyViolation);
  }
  if (key.size() > kMaxStepKeyBytes) {
    return Status::invalid_argument("summary key of {} bytes: at most {}", key.size(),
                                    kMaxStepKeyBytes)
        .with_kind(ErrorKind::kInvalidArgument);
  }
  if (step_key.empty()) {
    // Not a step (a host's or an operator's note): recorded each time, where the run is now.
    ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, run));
    RunState& state = *active_run.state;
    if (state.halt) return *state.halt;
    const std::string no_step;
    RecordedValue note{*this, no_step, StepKind::kSummary, value};
    ARTANA_RETURN_IF_ERROR(note(state, /*recorded=*/false).status());
    ARTANA_ASSIGN_OR_RETURN(Json recorded, note.take());
    Json payload =
        Json::object_of(Json::Member("kind", kind), Json::Member("value", std::move(recorded)));
    record_placeholders(payload, std::move(note.allocated));
    return append(state, event_drafts(EventDraft{std::string(ev::kRunSummary), std::move(payload)}))
        .status();
  }
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  return summary_step(active_run, kind, value, step_key, key);
}

Status Kernel::summary_step(ActiveRun& run, const std::string& kind, const ValueSource& value,
                            const std::string& step_key, const std::string& key) {
  RecordedValue prepare{*this, step_key, StepKind::kSummary, value};
  const StepQuery query{step_key, StepKind::kSummary, ReplayPolicy::kStrict, false, prepare};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(run, query));
  if (decision.verdict != StepDecision::Verdict::kLive) return Status();  // recorded already
  // Moved in: a braced Json::object would copy the value, which may be large.
  ARTANA_ASSIGN_OR_RETURN(Json recorded, prepare.take());
  Json payload =
      Json::object_of(Json::Member("kind", kind), Json::Member("value", std::move(recorded)),
                      Json::Member("step_key", step_key));
  if (!key.empty() && key != step_key) payload.set("key", key);
  record_placeholders(payload, std::move(prepare.allocated));
  // A summary is what a re-execution records again: it may share the run's next commit.
  AppendRequest request = request_for(
      *run.state, event_drafts(EventDraft{std::string(ev::kRunSummary), std::move(payload)}));
  request.deferrable = true;
  return commit(*run.state, std::move(request)).status();
}

Status Kernel::write_artifact(const TenantId& caller, const RunId& run, const std::string& step_key,
                              const std::string& key, Json value) {
  return write_artifact(caller, run, step_key, key,
                        [&value]() -> Result<Json> { return std::move(value); });
}

Status Kernel::write_artifact(const TenantId& caller, const RunId& run, const std::string& step_key,
                              const std::string& key, const ValueSource& value) {
  ARTANA_RETURN_IF_ERROR(check_artifact_key(key));
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  return summary_step(active_run, std::string(ev::kArtifactKindPrefix) + key, value, step_key);
}

Result<ValueStep> Kernel::read_artifact(const TenantId& caller, const RunId& run,
                                        const std::string& step_key, const std::string& key) {
  ARTANA_RETURN_IF_ERROR(check_artifact_key(key));
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  // Runs with the run locked: it reads the state and the store, never a locking Kernel
  // method. The state's artifact index was built from the run's events, a fork's shared
  // prefix included, and the store reads a fork's prefix seqs from its parent.
  auto latest = [this, &active_run, &key]() -> Result<Json> {
    const RunState& state = *active_run.state;
    auto it = state.artifacts.find(key);
    if (it == state.artifacts.end()) return Json();
    ARTANA_ASSIGN_OR_RETURN(std::vector<Event> events, store_.read(state.run_id, it->second, 1));
    if (events.empty() || events.front().type != ev::kRunSummary) {
      return Status::corruption("run '{}': artifact '{}' expected at seq {}", state.run_id.str(),
                                key, it->second);
    }
    const Json* value = events.front().payload.find("value");
    return value != nullptr ? *value : Json();
  };
  return value_step_locked(active_run, step_key, ValueKind::kArtifactRead, latest);
}

Result<ValueStep> Kernel::lookup(const TenantId& caller, const RunId& run,
                                 const std::string& step_key, const LookupRequest& request) {
  if (request.kind.empty() || request.kind.size() > kMaxStepKeyBytes) {
    return Status::invalid_argument("run:lookup: kind must be a string of 1..{} bytes",
                                    kMaxStepKeyBytes)
        .with_kind(ErrorKind::kInvalidArgument);
  }
  if (request.limit < 1 || request.limit > kMaxLookupLimit) {
    return Status::invalid_argument("run:lookup: limit must be 1..{}, not {}", kMaxLookupLimit,
                                    request.limit)
        .with_kind(ErrorKind::kInvalidArgument);
  }
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  // Runs with the run locked: the store's index, never a locking Kernel method. The run's
  // scope is where its steps go now (a fork sees its prefix), the tenant's is the run's own.
  auto found = [this, &active_run, &request]() -> Result<Json> {
    ARTANA_ASSIGN_OR_RETURN(
        std::vector<KeyedSummary> summaries,
        store_.latest_keyed_summaries(active_run.state->run_id, request.scope, request.kind,
                                      static_cast<size_t>(request.limit)));
    Json::Array out;
    out.reserve(summaries.size());
    for (KeyedSummary& summary : summaries) {
      out.push_back(Json::object({{"run_id", summary.run_id.str()},
                                  {"seq", static_cast<int64_t>(summary.seq)},
                                  {"key", std::move(summary.key)},
                                  {"value", std::move(summary.value)}}));
    }
    return Json(std::move(out));
  };
  return value_step_locked(active_run, step_key, ValueKind::kLookup, found);
}

}  // namespace artana::kernel
