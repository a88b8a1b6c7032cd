// Kernel: child runs (run:child) — a step whose work is another run, started by the step and
// executed by the host that executes its parent.
//
// child_started {step_key, child_run_id, script, capabilities, budget_micro_usd,
// request_hash} opens the step (synced: the child may run at once); child_completed
// {step_key, child_run_id, status, output | error} ends it. A child that stopped without
// ending (paused, sleeping, halted) holds its parent: child_waiting gives the parent the
// child's status until the child's completion sets it running again — or, when another
// child (of run:parallel) still holds it, that child's status, recorded again as its
// child_waiting (a run keeps the latest one).
#include <algorithm>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"

namespace artana::kernel {
namespace {

namespace ev = events;

// What the script asked, not what it resolved to: a remainder changes as the tree spends,
// and a replay must not see that as a different request.
Result<RequestIdentity> child_identity(const ChildRequest& request) {
  Json asked = Json::object({{"script", request.script},
                             {"child_run_id", request.child_run_id.str()},
                             {"input", request.input}});
  if (request.capabilities) {
    Json caps = Json::array();
    for (const std::string& cap : *request.capabilities) caps.push_back(Json(cap));
    asked.set("capabilities", std::move(caps));
  }
  if (request.budget_micro_usd) asked.set("budget_micro_usd", *request.budget_micro_usd);
  ARTANA_ASSIGN_OR_RETURN(std::string text, canonical_json(asked, "child request"));
  RequestIdentity identity;
  identity.present = true;
  identity.digest = Sha256::of(text);
  identity.set_request(std::move(asked));
  return identity;
}

// The child's seed: the parent's and the step key, so it is the same in every process.
int64_t child_seed(const Json& parent_metadata, const std::string& step_key) {
  const Json* seed = parent_metadata.find("seed");
  std::string material = seed != nullptr && seed->is_integer() ? std::to_string(seed->as_integer())
                                                               : std::string("none");
  const Sha256 digest = Sha256::of("artana-child-seed:" + material + "\n" + step_key);
  uint64_t bits = 0;
  for (int i = 0; i < 6; ++i) bits = (bits << 8) | digest.bytes[i];  // 48 bits: exact in JSON
  return static_cast<int64_t>(bits);
}

const char* terminal_status_name(RunStatus status) {
  switch (status) {
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kCancelled:
      return "cancelled";
    default:
      return "failed";
  }
}

// A child step of `state` other than `except` whose child stopped without ending (paused,
// sleeping, halted): it holds the run still. The first in key order, so every process that
// decides this picks the same one.
struct Holder {
  std::string step_key;
  RunId child_run_id;
  RunStatus status = RunStatus::kPaused;
};

Result<std::optional<Holder>> other_holder(EventStore& store, const RunState& state,
                                           const std::string& except) {
  std::vector<const std::string*> open;
  for (const auto& [key, step] : state.steps) {
    if (step.kind == StepKind::kChild && step.open_seq != 0 && !step.has_terminal() &&
        key != except)
      open.push_back(&key);
  }
  std::sort(open.begin(), open.end(), [](const auto* a, const auto* b) { return *a < *b; });
  for (const std::string* key : open) {
    ARTANA_ASSIGN_OR_RETURN(Event started,
                            store.read_event(state.run_id, state.steps.at(*key).open_seq));
    const Json* child = started.payload.find("child_run_id");
    if (child == nullptr || !child->is_string()) continue;
    auto info = store.run_info(RunId(child->as_string()));
    if (!info.ok()) continue;  // not created yet: it holds nothing
    if (info->status == RunStatus::kRunning || run_ended(info->status)) continue;
    return std::optional<Holder>(Holder{*key, RunId(child->as_string()), info->status});
  }
  return std::optional<Holder>();
}

}  // namespace

Result<ChildStep> Kernel::begin_child(const TenantId& caller, const RunId& run,
                                      const ChildRequest& request) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, request.step_key));
  auto prepare = [&request](RunState&, bool) { return child_identity(request); };
  const StepQuery query{request.step_key, StepKind::kChild, ReplayPolicy::kStrict, false, prepare};
  ARTANA_ASSIGN_OR_RETURN(StepDecision decision, decide(active_run, query));
  RunState& state = *active_run.state;
  ChildStep out;
  out.child_run_id = request.child_run_id;
  if (decision.verdict == StepDecision::Verdict::kReplay) {
    out.state = ChildStep::State::kEnded;
    out.replayed = true;
    out.completion = std::move(decision.terminal.payload);
    return out;
  }
  out.state = ChildStep::State::kExecute;
  StartRunRequest& start = out.start;
  start.run_id = request.child_run_id;
  start.tenant.tenant_id = state.tenant.tenant_id;
  start.input = request.input;
  start.replay = state.policy;
  start.parent_run_id = state.run_id;
  start.metadata = Json::object({{"seed", child_seed(state.metadata, request.step_key)}});
  if (decision.verdict == StepDecision::Verdict::kOpen) {
    // Started before (this process or another stopped since): the child goes on as it was
    // granted then, read back from child_started.
    ARTANA_ASSIGN_OR_RETURN(Event started,
                            store_.read_event(state.run_id, decision.step->open_seq));
    if (const Json* caps = started.payload.find("capabilities"); caps && caps->is_array()) {
      for (const Json& cap : caps->as_array()) {
        if (cap.is_string()) start.tenant.capabilities.push_back(cap.as_string());
      }
    }
    if (const Json* budget = started.payload.find("budget_micro_usd");
        budget && budget->is_integer())
      start.tenant.budget_micro_usd = budget->as_integer();
    return out;
  }

  // Live: judged like middleware before anything is recorded.
  int depth = 1;
  for (std::optional<RunId> above = state.parent_run_id; above; ++depth) {
    if (depth > kMaxChildDepth) break;
    ARTANA_ASSIGN_OR_RETURN(RunInfo info, store_.run_info(*above));
    above = info.header.parent_run_id;
  }
  if (depth > kMaxChildDepth) {
    return Status::invalid_argument(
               "run:child at '{}': run '{}' is {} generations deep already; children nest at "
               "most {} deep",
               request.step_key, state.run_id.str(), depth - 1, kMaxChildDepth)
        .with_kind(ErrorKind::kInvalidArgument, request.step_key);
  }
  std::vector<std::string> caps = request.capabilities.value_or(state.tenant.capabilities);
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  StepRequest judged;
  for (const std::string& cap : caps) {
    if (state.tenant.has_capability(cap)) continue;
    Status denied = Status::permission_denied(
                        "run:child at '{}': the child asks for capability '{}', which run '{}' "
                        "does not hold (a child gets at most its parent's; artana resume {} "
                        "--grant {})",
                        request.step_key, cap, state.run_id.str(), state.run_id.str(), cap)
                        .with_kind(ErrorKind::kCapabilityDenied, request.step_key);
    return refuse(state, request.step_key, StepKind::kChild, judged, denied, "child");
  }
  std::optional<int64_t> budget = request.budget_micro_usd;
  if (state.tenant.budget_micro_usd) {
    ARTANA_ASSIGN_OR_RETURN(Totals totals, store_.totals(state.run_id));
    const int64_t spent = std::max(state.spend_micro_usd, totals.tree_spend_micro_usd);
    const int64_t remainder = std::max<int64_t>(0, *state.tenant.budget_micro_usd - spent);
    if (!budget) budget = remainder;
    if (*budget > remainder) {
      Status over = Status::failed_precondition(
                        "run:child at '{}': the child's budget of {} micro-USD is more than "
                        "what run '{}' has left ({} of {}); raise it (artana resume {} --budget)",
                        request.step_key, *budget, state.run_id.str(), remainder,
                        *state.tenant.budget_micro_usd, state.run_id.str())
                        .with_kind(ErrorKind::kBudgetExceeded, request.step_key);
      return refuse(state, request.step_key, StepKind::kChild, judged, over, "child");
    }
  }
  start.tenant.capabilities = caps;
  start.tenant.budget_micro_usd = budget;
  Json caps_json = Json::array();
  for (const std::string& cap : caps) caps_json.push_back(Json(cap));
  Json payload = Json::object({{"step_key", request.step_key},
                               {"child_run_id", request.child_run_id.str()},
                               {"script", request.script},
                               {"capabilities", std::move(caps_json)},
                               {"budget_micro_usd", budget ? Json(*budget) : Json()},
                               {"request_hash", decision.identity.hex()}});
  // Synced: the child runs next, and a crash must find the step open to resume it.
  ARTANA_RETURN_IF_ERROR(
      append(state, event_drafts(EventDraft{std::string(ev::kChildStarted), std::move(payload)}),
             std::nullopt, /*barrier=*/true)
          .status());
  return out;
}

Status Kernel::end_child(const TenantId& caller, const RunId& run, const std::string& step_key,
                         const RunId& child, const ChildEnd& end) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, active(caller, run, step_key));
  RunState& state = *active_run.state;
  if (state.halt) return *state.halt;
  auto step = state.steps.find(step_key);
  if (step == state.steps.end() || step->second.kind != StepKind::kChild ||
      step->second.open_seq == 0) {
    return Status::failed_precondition("run '{}' has no child step '{}' started", run.str(),
                                       step_key);
  }
  if (step->second.has_terminal()) return Status();  // recorded already (a replay)
  const bool ended = run_ended(end.status);
  if (!ended) {
    // Stopped: once per stop, the parent takes the child's status.
    if (state.child_wait && state.child_wait->step_key == step_key &&
        state.child_wait->status == end.status && state.status == end.status) {
      return Status();
    }
    Json payload = Json::object({{"step_key", step_key},
                                 {"child_run_id", child.str()},
                                 {"status", run_status_name(end.status)}});
    if (!end.error.is_null()) payload.set("error", end.error);
    if (end.due_at_us) payload.set("due_at_us", *end.due_at_us);
    return append(state,
                  event_drafts(EventDraft{std::string(ev::kChildWaiting), std::move(payload)}),
                  end.status, /*barrier=*/true)
        .status();
  }
  Json payload = Json::object({{"step_key", step_key},
                               {"child_run_id", child.str()},
                               {"status", terminal_status_name(end.status)}});
  if (end.status == RunStatus::kCompleted) {
    payload.set("output", end.output);
  } else {
    payload.set("error", end.error);
  }
  std::vector<EventDraft> drafts =
      event_drafts(EventDraft{std::string(ev::kChildCompleted), std::move(payload)});
  // The parent runs again if its child held it — unless something else holds it still:
  // another child that stopped (run:parallel), or a pause or sleep of its own.
  std::optional<RunStatus> status;
  if (state.status != RunStatus::kRunning && !run_ended(state.status)) {
    status = RunStatus::kRunning;
    if (state.child_wait && state.child_wait->step_key != step_key) {
      status = state.child_wait->status;
    } else {
      ARTANA_ASSIGN_OR_RETURN(std::optional<Holder> holder, other_holder(store_, state, step_key));
      if (holder) {
        // Recorded again as the child that holds the run (a run keeps one, its latest).
        Json waiting = Json::object({{"step_key", holder->step_key},
                                     {"child_run_id", holder->child_run_id.str()},
                                     {"status", run_status_name(holder->status)}});
        // Without due_at_us: the child's lock is not taken under its parent's (wake_time
        // asks the child).
        drafts.push_back(EventDraft{std::string(ev::kChildWaiting), std::move(waiting)});
        status = holder->status;
      } else if (state.open_pause) {
        status = RunStatus::kPaused;
      } else if (!state.sleeps_due.empty()) {
        status = RunStatus::kSleeping;
      }
    }
  }
  return append(state, std::move(drafts), status).status();
}

}  // namespace artana::kernel
