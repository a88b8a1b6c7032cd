// Kernel: what a host asks of a run around its steps — the run's record, the tool registry
// its steps use, and the identity of the script it runs.
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/run_state.h"
#include "kernel/step_machine.h"

namespace artana::kernel {
namespace {

namespace ev = events;

}  // namespace

const ToolRegistry& Kernel::registry_for(const RunState& state) const {
  return state.tools ? *state.tools : tools_;
}

Result<RunRecord> Kernel::run_record(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  std::unique_lock<std::mutex> lock(state->mu);
  RunRecord record;
  record.run_id = state->run_id;
  record.tenant = state->tenant;
  record.script_hash = state->script_hash;
  record.input = state->input;
  record.replay = state->policy;
  record.parent_run_id = state->parent_run_id;
  record.metadata = state->metadata;
  record.status = state->status;
  record.started = state->started;
  // Hand over hand, as active() does: the chain only grows at its end.
  for (;;) {
    ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> next, next_in_chain(*state));
    if (!next) break;
    lock = std::unique_lock<std::mutex>(next->mu);
    state = std::move(next);
  }
  record.active_run_id = state->run_id;
  // record_script writes where the steps go, so the chain's end has the latest identity.
  record.script = state->script_identity;
  return record;
}

Status Kernel::set_run_tools(const TenantId& caller, const RunId& run,
                             std::shared_ptr<const ToolRegistry> tools) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  // Every run of the chain: a step named by the original id may still land in any of them
  // (a fork is only linked again when a reloaded run replays into its drift).
  std::unique_lock<std::mutex> lock(state->mu);
  state->tools = tools;
  for (;;) {
    ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> next, next_in_chain(*state));
    if (!next) break;
    lock = std::unique_lock<std::mutex>(next->mu);
    state = std::move(next);
    state->tools = tools;
  }
  return Status();
}

Result<std::string> Kernel::check_script_identity(const RunId& run, const Json& identity) {
  if (!identity.is_object()) {
    return Status::invalid_argument("run '{}': a script identity must be an object, got {}",
                                    run.str(), json_type_name(identity.type()));
  }
  return canonical_json(identity, "identity");
}

Status Kernel::record_script(const TenantId& caller, const RunId& run, const Json& identity) {
  ARTANA_ASSIGN_OR_RETURN(std::string canonical, check_script_identity(run, identity));
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, run));
  RunState& state = *active_run.state;
  // An ended run runs no script again: looking at it must leave no trace.
  if (run_ended(state.status)) return Status();
  if (!state.script_identity.is_null()) {
    // Canonical text, not Json ==: the identity is compared as the ledger hashes it.
    if (state.script_identity_text.empty()) {
      ARTANA_ASSIGN_OR_RETURN(state.script_identity_text,
                              canonical_json(state.script_identity, "identity"));
    }
    if (state.script_identity_text == canonical) return Status();
  }
  return append(state, event_drafts(EventDraft{std::string(ev::kScriptLoaded), identity})).status();
}

}  // namespace artana::kernel
