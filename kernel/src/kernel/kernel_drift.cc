// Kernel: replay drift — a step reached with a request other than the recorded one — under
// the three policies, and the forks fork_on_drift creates.
#include <fmt/format.h>

#include <algorithm>

#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/model_identity.h"
#include "kernel/run_state.h"
#include "kernel/step_machine.h"
#include "kernel_log.h"

namespace artana::kernel {
namespace {

namespace ev = events;

// A fork of a fork of …: bounded so a script that drifts on every step cannot recurse forever.
constexpr int kMaxForkDepth = 8;

Json strings_json(const std::vector<std::string>& items) {
  Json out = Json::array();
  for (const std::string& s : items) out.push_back(s);
  return out;
}

}  // namespace

Result<Kernel::DriftDecision> Kernel::resolve_drift(RunState& state, const std::string& key,
                                                    ReplayPolicy policy, const StepRecord& recorded,
                                                    RequestIdentity& identity, int depth) {
  DriftDecision decision;
  // The recorded request is read only now, to name what changed.
  ARTANA_ASSIGN_OR_RETURN(Event opened, store_.read_event(state.run_id, recorded.open_seq));
  const Json* request_member = opened.payload.find("request");
  const Json& recorded_request = request_member != nullptr ? *request_member : opened.payload;
  decision.fields = drift_fields(recorded_request, identity.request());
  if (decision.fields.empty()) {
    // Equal requests with different hashes: the record was altered, not the script.
    if (recorded_request == identity.request()) {
      return Status::corruption(
          "step '{}' of run '{}': the recorded request equals this one but its recorded hash "
          "differs: the ledger's record of the step was altered after writing; run `artana "
          "ledger verify`",
          key, state.run_id.str());
    }
    decision.fields.push_back("request");
  }
  Json detail =
      Json::object({{"drift_fields", strings_json(decision.fields)},
                    {"request_hash", identity.hex()},
                    {"recorded_request_hash",
                     recorded.request_hash ? Json(recorded.request_hash->hex()) : Json()}});
  if (policy == ReplayPolicy::kStrict) {
    return halt(state,
                Status::failed_precondition(
                    "step '{}' of run '{}' was recorded with a different request ({} changed); "
                    "fix the script and resume, or allow the drift with replay = "
                    "allow_prompt_drift or fork_on_drift",
                    key, state.run_id.str(), fmt::join(decision.fields, ", "))
                    .with_kind(ErrorKind::kReplayDrift, key),
                RunStatus::kNeedsAttention, detail);
  }
  if (policy == ReplayPolicy::kForkOnDrift) {
    if (depth >= kMaxForkDepth) {
      return Status::failed_precondition("step '{}': forks nested {} deep; stop forking", key,
                                         depth)
          .with_kind(ErrorKind::kReplayDrift, key);
    }
    ARTANA_ASSIGN_OR_RETURN(decision.fork, fork_for(state, recorded, identity.hex()));
    {
      // The fork goes on from where the script is: same placeholders, same numbering.
      std::lock_guard<std::mutex> fork_lock(decision.fork->mu);
      decision.fork->pii.placeholder_of = state.pii.placeholder_of;
      decision.fork->pii.counts = state.pii.counts;
      decision.fork->inherit_reached(state);
      // The fork runs the same script: it calls the tools the host gave the original.
      if (state.tools) decision.fork->tools = state.tools;
      decision.fork->mark = state.mark;  // a host watching the run sees the fork's appends
    }
    detail.set("fork_run_id", decision.fork->run_id.str());
    state.forked_to = decision.fork;
  }
  // Noted once per step and request: replaying the same drift again appends nothing.
  const std::vector<Sha256>& noted = recorded.extras().drift_noted;
  if (std::find(noted.begin(), noted.end(), identity.digest) == noted.end()) {
    detail.set("step_key", key);
    ARTANA_RETURN_IF_ERROR(
        append(state,
               event_drafts(EventDraft{std::string(ev::kReplayedWithDrift), std::move(detail)}))
            .status());
  }
  return decision;
}

Result<std::shared_ptr<RunState>> Kernel::fork_for(RunState& parent, const StepRecord& recorded,
                                                   const std::string& request_hash) {
  RunId fork_id(parent.run_id.str() + "::fork::" + request_hash.substr(0, 12));
  // The same drift twice gives the same fork.
  if (store_.head(fork_id).ok()) return load(fork_id);
  ARTANA_ASSIGN_OR_RETURN(RunInfo parent_info, store_.head(parent.run_id));
  const uint64_t fork_seq = recorded.open_seq - 1;
  RunHeader header;
  header.run_id = fork_id;
  header.tenant_id = parent_info.header.tenant_id;
  header.script_hash = parent_info.header.script_hash;
  header.parent_run_id = parent_info.header.parent_run_id;
  header.forked_from = ForkPoint{parent.run_id, fork_seq};
  header.metadata = parent_info.header.metadata;
  Json payload = Json::object({{"forked_from_run_id", parent.run_id.str()},
                               {"fork_seq", static_cast<int64_t>(fork_seq)},
                               {"request_hash", request_hash}});
  // Created with its run_forked in one commit (like a new run: it exists whole or not at
  // all), then loaded: its shared prefix's steps come from the indexes the creation wrote.
  AppendRequest request;
  request.run_id = fork_id;
  request.create = header;
  request.drafts = event_drafts(EventDraft{std::string(ev::kRunForked), std::move(payload)});
  ARTANA_ASSIGN_OR_RETURN(AppendResult created, send(fork_id, std::move(request)));
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> fork, load(fork_id));
  {
    std::lock_guard<std::mutex> lock(fork->mu);
    fork->lease_epoch = created.lease_epoch;  // the lease its creation took
  }
  kernel_log().info("run forked run={} fork={} fork_seq={}", parent.run_id.str(), fork_id.str(),
                    fork_seq);
  return fork;
}

}  // namespace artana::kernel
