// Kernel: loading runs, appending for them, lifecycle and operator calls. Model steps and
// drift are in kernel_model.cc, pauses and resume in kernel_pause.cc.
#include "artana/kernel/kernel.h"

#include <algorithm>
#include <cstdlib>

#include "artana/kernel/fault_points.h"
#include "json_schema/schema_cache.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"
#include "kernel_log.h"
#include "middleware/capability_rule.h"
#include "random_id.h"

namespace artana::kernel {
namespace {

namespace ev = events;

}  // namespace

Kernel::Kernel(EventStore& store, KernelOptions options)
    : store_(store),
      mode_(options.mode),
      middleware_(std::move(options.middleware)),
      on_event_(std::move(options.on_event)),
      pipelined_(options.pipelined_commits),
      kept_(options.kept_result_bytes > 0 ? std::make_shared<KeptBudget>(options.kept_result_bytes)
                                          : nullptr),
      schemas_(std::make_unique<SchemaCache>()),
      held_(std::make_unique<Held>()) {
  // The order is the kernel's, not the caller's: PII, quota, capability, custom.
  std::stable_sort(middleware_.begin(), middleware_.end(),
                   [](const auto& a, const auto& b) { return a->kind() < b->kind(); });
  bool capability_guard = false;
  for (const auto& m : middleware_) {
    capability_guard = capability_guard || m->kind() == Middleware::Kind::kCapability;
  }
  if (!capability_guard) {
    // Capabilities the operator gave are enforced in every mode; with none, all is open.
    auto guard = make_capability_guard(CapabilityOptions{true});
    auto at = std::find_if(middleware_.begin(), middleware_.end(),
                           [](const auto& m) { return m->kind() > Middleware::Kind::kCapability; });
    middleware_.insert(at, std::move(guard));
  }
  for (const auto& m : middleware_) values_rewritten_ = values_rewritten_ || m->rewrites_values();
}

Result<std::unique_ptr<Kernel>> Kernel::open(EventStore& store, KernelOptions options) {
  for (const auto& m : options.middleware) {
    if (m == nullptr) return Status::invalid_argument("a middleware entry is null");
  }
  if (options.mode == PolicyMode::kEnforced) {
    const std::pair<Middleware::Kind, const char*> required[] = {
        {Middleware::Kind::kPii, "the PII scrubber (make_pii_scrubber)"},
        {Middleware::Kind::kQuota, "the quota guard (make_quota_guard)"},
        {Middleware::Kind::kCapability, "the capability guard (make_capability_guard)"}};
    for (const auto& [kind, what] : required) {
      bool present = false;
      for (const auto& m : options.middleware) present = present || m->kind() == kind;
      if (!present) {
        return Status::invalid_argument("policy mode enforced requires {}; it is missing", what);
      }
    }
  }
  return std::unique_ptr<Kernel>(new Kernel(store, std::move(options)));
}

Kernel::~Kernel() {
  // The commit thread's callbacks use this kernel: every pipelined write lands first.
  for (uint32_t n; (n = held_->in_flight.load(std::memory_order_acquire)) != 0;)
    held_->in_flight.wait(n, std::memory_order_acquire);
}

RunId Kernel::new_run_id() { return RunId("run_" + random_id()); }

Result<RunId> Kernel::start_run(const StartRunRequest& request) {
  RunHeader header;
  header.run_id = request.run_id.value_or(new_run_id());
  header.tenant_id = request.tenant.tenant_id;
  header.script_hash = request.script_hash;
  header.parent_run_id = request.parent_run_id;
  header.metadata = request.metadata;
  if (!request.script_identity.is_null()) {
    ARTANA_RETURN_IF_ERROR(check_script_identity(header.run_id, request.script_identity).status());
  }
  // A new run is created, started and its sources stored in one commit: it exists whole or
  // not at all. Its state is what loading a just-created run gives, held once it exists.
  RunIndex fresh;
  fresh.info.header = header;
  auto state = std::make_shared<RunState>();
  state->run_id = header.run_id;
  state->kept_budget = kept_;
  ARTANA_RETURN_IF_ERROR(state->load(fresh, {}));
  Status started = record_start(*state, request, &header);
  if (started.ok()) {
    std::shared_ptr<RunState> held;
    {
      std::lock_guard<std::mutex> lock(held_->mu);
      held = held_->runs.emplace(header.run_id.str(), state).first->second;
    }
    if (held != state) {
      // Another thread loaded the run from the ledger since its commit: that state is the
      // one kept, and the lease this start took is this process's.
      std::lock_guard<std::mutex> lock(held->mu);
      held->lease_epoch = state->lease_epoch;
    }
    return header.run_id;
  }
  if (started.code() != StatusCode::kAlreadyExists) return started;
  // A start interrupted between creating the run and recording run_started (the process
  // died; ledgers written before the two shared a commit) is finished now; any other
  // existing run keeps its id.
  auto info = store_.run_info(header.run_id);
  if (!info.ok() || info->head_seq != 0 || info->header.tenant_id != header.tenant_id) {
    return started;
  }
  ARTANA_ASSIGN_OR_RETURN(state, load(header.run_id));
  ARTANA_RETURN_IF_ERROR(record_start(*state, request, nullptr));
  return header.run_id;
}

Status Kernel::record_start(RunState& state, const StartRunRequest& request,
                            const RunHeader* create) {
  TenantContext tenant = request.tenant;
  std::sort(tenant.capabilities.begin(), tenant.capabilities.end());
  tenant.capabilities.erase(std::unique(tenant.capabilities.begin(), tenant.capabilities.end()),
                            tenant.capabilities.end());
  std::lock_guard<std::mutex> lock(state.mu);
  state.tenant = tenant;  // the run has no event yet: its tenant is the one starting it
  // The input is a run's first recorded value: numbered from a fresh run's placeholders.
  PiiState fresh;
  StepValue input(request.input);
  StepRequest rewrite{std::span<StepValue>(&input, 1)};
  rewrite.placeholders.numbering = &fresh;
  ARTANA_RETURN_IF_ERROR(rewrite_request(state, "", std::nullopt, rewrite));
  Json payload = Json::object({{"tenant", tenant.to_json()},
                               {"script_hash", request.script_hash},
                               {"input", input.take()},
                               {"replay_policy", replay_policy_name(request.replay)},
                               {"metadata", request.metadata}});
  if (request.parent_run_id) payload.set("parent_run_id", request.parent_run_id->str());
  record_placeholders(payload, std::move(rewrite.placeholders.allocated));
  AppendRequest append_request = request_for(
      state, event_drafts(EventDraft{std::string(ev::kRunStarted), std::move(payload)}));
  if (!request.script_identity.is_null()) {
    append_request.drafts.push_back(
        EventDraft{std::string(ev::kScriptLoaded), request.script_identity});
  }
  if (create) {
    append_request.create = *create;
    append_request.blobs = request.sources;
  } else {
    for (const std::string& source : request.sources) {
      ARTANA_RETURN_IF_ERROR(store_.put_blob(source).status());
    }
  }
  return commit(state, std::move(append_request)).status();
}

Result<std::shared_ptr<RunState>> Kernel::load(const RunId& run) {
  {
    std::lock_guard<std::mutex> lock(held_->mu);
    if (auto it = held_->runs.find(run.str()); it != held_->runs.end()) return it->second;
  }
  // Read outside the lock: a long run takes a while, and other runs need not wait.
  // From the indexes: a record per step, and the few run facts read whole. No step's
  // request or result is read until a replay returns it.
  // Step records go straight into the state's map: no list of them in between.
  auto state = std::make_shared<RunState>();
  state->run_id = run;
  state->kept_budget = kept_;
  ARTANA_ASSIGN_OR_RETURN(RunIndex index,
                          store_.run_index(run, [&](std::string&& key, StepIndexRecord&& record) {
                            return state->load_step(std::move(key), std::move(record));
                          }));
  std::vector<uint64_t> fact_seqs;
  for (const auto& [name, seq] : index.latest) {
    if (!name.starts_with("run_summary:")) fact_seqs.push_back(seq);
  }
  std::sort(fact_seqs.begin(), fact_seqs.end());
  std::vector<Event> facts;
  if (!fact_seqs.empty()) {
    ARTANA_ASSIGN_OR_RETURN(facts, store_.read_payloads(run, fact_seqs));
  }
  ARTANA_RETURN_IF_ERROR(state->load(index, facts));
  {
    std::lock_guard<std::mutex> lock(held_->mu);
    auto [it, inserted] = held_->runs.emplace(run.str(), state);
    if (!inserted) return it->second;  // another thread loaded it first: use that one
  }
  // A tool requested and never completed means its process died during the call — unless
  // a live process still owns the run (kLeaseHeld): then the call may be running there, and
  // the run is only being looked at from here.
  std::lock_guard<std::mutex> lock(state->mu);
  {
    // Calls this process still has in flight for the run (made before a reload) are not
    // lost: their steps are in flight here too.
    std::lock_guard<std::mutex> held_lock(held_->mu);
    for (uint64_t ticket : held_->live.of_run(run)) {
      const LiveEntry* entry = held_->live.find(ticket);
      StepRecord& step = state->steps[entry->step_key];
      step.kind = entry->kind;
      step.in_flight = true;
    }
  }
  Status settled = settle_unknown_outcomes(*state);
  if (!settled.ok() && settled.code() != StatusCode::kLeaseHeld) {
    std::lock_guard<std::mutex> runs_lock(held_->mu);
    held_->runs.erase(run.str());
    return settled;
  }
  return state;
}

Result<std::shared_ptr<RunState>> Kernel::checked(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, load(run));
  if (state->tenant.tenant_id != caller) {
    return Status::permission_denied("run '{}' does not belong to tenant '{}'", run.str(),
                                     caller.str());
  }
  return state;
}

Result<Kernel::ActiveRun> Kernel::active(const TenantId& caller, const RunId& run,
                                         const std::string& step_key) {
  if (step_key.empty() || step_key.size() > kMaxStepKeyBytes) {
    return Status::invalid_argument("step_key must be 1..{} bytes, got {}", kMaxStepKeyBytes,
                                    step_key.size());
  }
  return chain_end(caller, run);
}

Result<Kernel::ActiveRun> Kernel::chain_end(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  // After fork_on_drift, execution continues in the fork: follow the chain.
  std::unique_lock<std::mutex> lock(state->mu);
  for (;;) {
    ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> next, next_in_chain(*state));
    if (!next) break;
    lock = std::unique_lock<std::mutex>(next->mu);
    state = std::move(next);
  }
  note_commit_failure(*state);
  return ActiveRun{std::move(state), std::move(lock)};
}

Result<RunId> Kernel::executing_run(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(ActiveRun active_run, chain_end(caller, run));
  return active_run.state->run_id;
}

Result<std::shared_ptr<RunState>> Kernel::next_in_chain(RunState& state) {
  if (!state.forked_to && state.fork_run_id) {
    // Recorded by an earlier process: link it now.
    ARTANA_ASSIGN_OR_RETURN(state.forked_to, load(*state.fork_run_id));
    if (state.tools && !state.forked_to->tools) state.forked_to->tools = state.tools;
    state.forked_to->mark = state.mark;  // freshly loaded: nothing of its own in flight
  }
  return state.forked_to;
}

Result<AppendResult> Kernel::append(RunState& state, std::vector<EventDraft> drafts,
                                    std::optional<RunStatus> new_status, bool barrier,
                                    std::function<Status(AppendTxn&)> in_txn) {
  AppendRequest request = request_for(state, std::move(drafts));
  request.new_status = new_status;
  request.barrier = barrier;
  request.in_txn = std::move(in_txn);
  // An ended run appends nothing more: its lease goes in the same commit.
  request.release_lease = new_status && run_ended(*new_status);
  return commit(state, std::move(request));
}

Result<AppendResult> Kernel::send(const RunId& run, AppendRequest request) {
  fault_point("append.before");
  Result<AppendResult> appended = store_.append(std::move(request));
  if (!appended.ok() && appended.status().code() == StatusCode::kFenced) {
    kernel_log().warn("append fenced run={}: {}; this process stops writing the run", run.str(),
                      appended.status().message());
  }
  if (appended.ok()) fault_point("append.after");
  return appended;
}

AppendRequest Kernel::request_for(const RunState& state, std::vector<EventDraft> drafts) {
  AppendRequest request;
  request.run_id = state.run_id;
  request.lease_epoch = state.lease_epoch;
  request.expected_head_seq = state.head_seq;
  request.drafts = std::move(drafts);
  return request;
}

Result<AppendResult> Kernel::commit(RunState& state, AppendRequest request) {
  const std::optional<RunStatus> new_status = request.new_status;
  const bool creates = request.create.has_value();
  const RunStatus status_before = state.status;
  ARTANA_ASSIGN_OR_RETURN(AppendResult result, pipelined_ && !request.outside_owner
                                                   ? send_pipelined(state, std::move(request))
                                                   : send(state.run_id, std::move(request)));
  state.lease_epoch = new_status && run_ended(*new_status) ? 0 : result.lease_epoch;
  for (size_t i = 0; i < result.events.size(); ++i) {
    const IndexEntries* indexed = i < result.indexes.size() ? &result.indexes[i] : nullptr;
    const std::string_view text =
        i < result.payload_texts.size() ? result.payload_texts[i] : std::string_view();
    ARTANA_RETURN_IF_ERROR(state.apply(result.events[i], indexed, text));
  }
  if (new_status) state.status = *new_status;
  if (new_status && run_ended(*new_status)) state.forget_kept();  // it executes no more
  if (on_event_ && !result.events.empty()) {
    // The status the append left the run in, told with the event that made it: a new run's
    // first event, else the append's last.
    std::optional<RunStatus> changed;
    if (creates || state.status != status_before) changed = state.status;
    const size_t told_at = creates ? 0 : result.events.size() - 1;
    for (size_t i = 0; i < result.events.size(); ++i)
      on_event_(result.events[i], i == told_at ? changed : std::nullopt);
  }
  return result;
}

Status Kernel::halt(RunState& state, Status error, RunStatus status, const Json& detail) {
  // Audited once per attempt: a run already halted (reloaded, replaying to the same
  // point) gets no second event.
  if (state.status != status && state.status != RunStatus::kCompleted) {
    Json payload = detail.is_object() ? detail : Json::object();
    payload.set("kind", error.kind());
    payload.set("message", error.message());
    payload.set("step_key", error.step_key());
    ARTANA_RETURN_IF_ERROR(
        append(state, event_drafts(EventDraft{std::string(ev::kRunHalted), std::move(payload)}),
               status)
            .status());
    kernel_log().info("run halted run={} kind={} step_key={} status={}", state.run_id.str(),
                      error.kind(), error.step_key(), run_status_name(status));
  }
  state.halt = error;
  return error;
}

Status Kernel::lifecycle(const TenantId& caller, const RunId& run, std::string_view type,
                         Json payload, RunStatus new_status) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  std::lock_guard<std::mutex> lock(state->mu);
  if (state->status == RunStatus::kCompleted || state->status == RunStatus::kFailed ||
      state->status == RunStatus::kCancelled) {
    return Status::failed_precondition("run '{}' already ended ({})", run.str(),
                                       run_status_name(state->status));
  }
  ARTANA_RETURN_IF_ERROR(append(*state,
                                event_drafts(EventDraft{std::string(type), std::move(payload)}),
                                new_status, /*barrier=*/true)
                             .status());
  return Status();
}

Status Kernel::complete(const TenantId& caller, const RunId& run, const Json& output) {
  return lifecycle(caller, run, ev::kRunCompleted, Json::object({{"output", output}}),
                   RunStatus::kCompleted);
}

Status Kernel::fail(const TenantId& caller, const RunId& run, const Json& error) {
  return lifecycle(caller, run, ev::kRunFailed, Json::object({{"error", error}}),
                   RunStatus::kFailed);
}

Result<RunStatus> Kernel::status(const TenantId& caller, const RunId& run) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, checked(caller, run));
  std::lock_guard<std::mutex> lock(state->mu);
  return state->status;
}

Status Kernel::raise_budget(const std::string& operator_id, const RunId& run,
                            int64_t budget_micro_usd) {
  if (budget_micro_usd < 0) return Status::invalid_argument("a budget cannot be negative");
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, load(run));
  std::lock_guard<std::mutex> lock(state->mu);
  Json payload = Json::object({{"budget_micro_usd", budget_micro_usd}, {"by", operator_id}});
  ARTANA_RETURN_IF_ERROR(
      append(*state, event_drafts(EventDraft{std::string(ev::kBudgetRaised), std::move(payload)}))
          .status());
  if (state->halt && state->halt->error_kind() == ErrorKind::kBudgetExceeded) state->halt.reset();
  return Status();
}

Status Kernel::grant(const std::string& operator_id, const RunId& run,
                     const std::string& capability) {
  if (capability.empty()) return Status::invalid_argument("capability must not be empty");
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<RunState> state, load(run));
  std::lock_guard<std::mutex> lock(state->mu);
  Json payload = Json::object({{"capability", capability}, {"by", operator_id}});
  return append(*state,
                event_drafts(EventDraft{std::string(ev::kCapabilityGranted), std::move(payload)}))
      .status();
}

}  // namespace artana::kernel
