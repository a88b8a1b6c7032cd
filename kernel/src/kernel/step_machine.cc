// The step machine: the one decision every kind of step goes through, and the live steps it
// hands out. Kinds differ only in their StepKindRow and in how they turn a terminal into a
// result (kernel_model.cc, kernel_tool.cc, …); everything that decides whether a step
// replays, drifts, goes live or halts is here:
//   - a halted run keeps returning its halt (sticky);
//   - a step recorded as another kind halts the run (replay_drift), under every policy;
//   - a different request at a recorded step is drift: strict halts, allow_prompt_drift
//     notes it once and replays, fork_on_drift continues in the fork (the chain is followed);
//   - an ended run (completed, failed, cancelled) never goes live again and never waits: only
//     recorded terminals replay, and the refusal is sticky;
//   - a side effect requested and never completed halts for reconciliation;
//   - a replayed step is reached (the replay flag, the PII numbering advance).
#include "kernel/step_machine.h"

#include <algorithm>

#include "artana/kernel/fault_points.h"
#include "kernel/event_types.h"
#include "kernel/tenant_facts.h"
#include "kernel_log.h"

namespace artana::kernel {
namespace {

namespace ev = events;

Status kind_mismatch(const std::string& key, StepKind recorded, StepKind now) {
  return Status::failed_precondition(
             "step '{}' was recorded as a {} step, now reached as a {} step", key,
             step_kind_name(recorded), step_kind_name(now))
      .with_kind(ErrorKind::kReplayDrift, key);
}

}  // namespace

Result<Kernel::StepDecision> Kernel::decide(ActiveRun& run, const StepQuery& query) {
  const std::string& key = query.key;
  const StepKindRow& row = step_kind_row(query.kind);
  bool settled = false;
  int depth = 0;  // forks followed
  StepDecision decision;
  const RunState* prepared_in = nullptr;  // the request is prepared once per run of the chain
  const auto deferred = [&decision] {
    decision.verdict = StepDecision::Verdict::kDeferred;
    return std::move(decision);
  };
  for (;;) {
    RunState& state = *run.state;
    // A replay only (see StepQuery): every case it does not cover is left, untouched, to the
    // decision without it. Values rewritten by a middleware renumber the run's placeholders.
    if (query.replay_only && (state.halt || state.cancel_requested || values_rewritten_))
      return deferred();
    if (state.halt) return *state.halt;
    if (state.cancel_requested && !run_ended(state.status)) {
      // Requested while another process executed the run: whoever executes it next applies it.
      ARTANA_RETURN_IF_ERROR(apply_cancel(state, *state.cancel_requested));
      return *state.halt;
    }
    StepRecord* step = state.find_step(key);
    const bool recorded = step != nullptr && step->recorded();
    if (query.replay_only &&
        !(recorded && !step->in_flight && step->kind == query.kind &&
          step->end == StepEnd::kSucceeded && (!row.replays_result || step->terminal_kept()))) {
      return deferred();
    }
    if (prepared_in != &state) {
      ARTANA_ASSIGN_OR_RETURN(decision.identity, query.prepare(state, recorded));
      prepared_in = &state;
    }
    if (step != nullptr && step->in_flight) {
      // A call the execution before a reload made here, still running: the same request
      // adopts it; another one abandons it and decides the step as if it never ran.
      if (row.live_call) {
        if (std::optional<uint64_t> ticket =
                adopt_live(state, key, query.kind, decision.identity)) {
          decision.verdict = StepDecision::Verdict::kAdopted;
          decision.ticket = *ticket;
          return decision;
        }
      }
      if (step->in_flight) {
        return Status::failed_precondition("step '{}' of run '{}' is already in flight", key,
                                           state.run_id.str());
      }
    }
    decision.step = nullptr;
    decision.drift_fields.clear();
    if (!recorded) {
      if (run_ended(state.status)) return never_live(state, key, step);
      return decision;  // live
    }
    if (step->kind != query.kind) {
      return halt(state, kind_mismatch(key, step->kind, query.kind), RunStatus::kNeedsAttention,
                  Json::object());
    }
    if (row.has_identity && step->request_hash && decision.identity.present &&
        *step->request_hash != decision.identity.digest) {
      if (query.replay_only) return deferred();
      ARTANA_ASSIGN_OR_RETURN(DriftDecision drift, resolve_drift(state, key, query.policy, *step,
                                                                 decision.identity, depth));
      if (drift.fork) {
        // The step goes on in the fork, as if the script had always been there.
        std::unique_lock<std::mutex> fork_lock(drift.fork->mu);
        run = ActiveRun{std::move(drift.fork), std::move(fork_lock)};
        ++depth;
        continue;
      }
      decision.drift_fields = std::move(drift.fields);
    }
    decision.step = step;
    switch (step->end) {
      case StepEnd::kSucceeded:
        break;
      case StepEnd::kFailedTransient:
      case StepEnd::kFailed: {
        const bool retry =
            query.retry_failed && (step->end == StepEnd::kFailedTransient || !step->side_effect);
        if (!retry) break;
        if (run_ended(state.status)) return never_live(state, key, step);
        decision.step = nullptr;
        return decision;  // live again
      }
      case StepEnd::kUnknown:
        state.reached(*step);
        return reconciliation_halt(state, key, query.kind);
      case StepEnd::kOpen:
        // Requested and never completed, and not in flight here: its process stopped during
        // the call. A side effect is settled as unknown (and halts above); a call without one
        // simply runs again, and so does an operator's retry.
        if (row.live_call) {
          if (step->side_effect && !step->retry_armed) {
            if (settled) return Status::internal("step '{}' could not be settled", key);
            ARTANA_RETURN_IF_ERROR(settle_unknown_outcomes(state));
            settled = true;
            continue;
          }
          if (run_ended(state.status)) return never_live(state, key, step);
          decision.step = nullptr;
          return decision;  // live again
        }
        if (run_ended(state.status)) return never_live(state, key, step);
        decision.verdict = StepDecision::Verdict::kOpen;
        return decision;
    }
    // The result is read now, by seq: kept from an earlier execution here, or from the ledger.
    if (row.replays_result) {
      ARTANA_ASSIGN_OR_RETURN(decision.terminal, read_terminal(state, key, *step));
      if (!query.keep_text) ARTANA_RETURN_IF_ERROR(decision.terminal.parse(state.run_id));
    }
    state.reached(*step);
    decision.verdict = StepDecision::Verdict::kReplay;
    return decision;
  }
}

// A replay's results are read in batches: the terminal asked for and the loaded steps'
// terminals after it, in seq order (the order a script replays them in), up to kReadAheadSteps
// or kReadAheadBytes. A script replaying in order then reads the ledger once per batch; one
// jumping around reads what it asks for.
namespace {
constexpr size_t kReadAheadSteps = 64;
constexpr size_t kReadAheadBytes = size_t{1} << 20;

// The loaded steps' terminal seqs a replay reads, sorted.
const std::vector<uint64_t>& terminal_seqs(RunState& state) {
  if (state.terminal_seqs.empty()) {
    // Dropped when the run went live; a new execution in this process (a reload) replays
    // again: gather the terminals once more (8 bytes a step).
    for (const auto& [step_key, loaded] : state.steps) {
      if (loaded.replay_reads_terminal() && !loaded.terminal_kept())
        state.terminal_seqs.push_back(loaded.terminal_seq);
    }
    std::sort(state.terminal_seqs.begin(), state.terminal_seqs.end());
  }
  return state.terminal_seqs;
}
}  // namespace

std::vector<uint64_t> Kernel::terminal_batch(RunState& state, uint64_t seq) {
  terminal_seqs(state);
  const auto end = state.terminal_seqs.end();
  auto from = std::lower_bound(state.terminal_seqs.begin(), end, seq);
  if (from == end || *from != seq) return {};
  return std::vector<uint64_t>(from, from + std::min<size_t>(kReadAheadSteps, end - from));
}

Result<RecordedTerminal> Kernel::read_terminal(RunState& state, const std::string& key,
                                               StepRecord& step) {
  const uint64_t seq = step.terminal_seq;
  if (step.terminal_kept()) {
    ++state.kept_replayed;
    return RecordedTerminal{step.kept->type(), seq, Json(), std::string(step.kept->text())};
  }
  ARTANA_ASSIGN_OR_RETURN(RecordedTerminal read, read_recorded(state, key, step));
  if (!read.text.empty()) state.keep_result(step, seq, read.type, read.text);
  return read;
}

Result<RecordedTerminal> Kernel::read_recorded(RunState& state, const std::string& key,
                                               const StepRecord& step) {
  const uint64_t seq = step.terminal_seq;
  if (step.value.has()) {
    // Inlined in the step's record (step_index.h): the payload was exactly this.
    Json::Object payload;
    payload.reserve(2);
    payload.emplace_back("step_key", Json(key));
    payload.emplace_back("value", step.value.json());
    return RecordedTerminal{std::string(step_kind_row(step.kind).ended[0]), seq,
                            Json(std::move(payload))};
  }
  // The next one in order, else any one read ahead (parallel branches replay out of order).
  const size_t n = state.read_ahead.size();
  for (size_t i = state.read_ahead_next < n ? state.read_ahead_next : 0, tried = 0; tried < n;
       ++tried, i = i + 1 == n ? 0 : i + 1) {
    if (state.read_ahead[i].seq != seq) continue;
    state.read_ahead_next = i + 1;
    RecordedTerminal terminal = std::move(state.read_ahead[i]);
    state.read_ahead[i].seq = 0;
    return terminal;
  }
  std::vector<uint64_t> batch = terminal_batch(state, seq);
  const bool in_order = !batch.empty();
  if (!in_order) batch.push_back(seq);
  ARTANA_ASSIGN_OR_RETURN(std::vector<PayloadText> events,
                          store_.read_payload_texts(state.run_id, batch, kReadAheadBytes));
  if (in_order) {
    // The batch after this one: the store may read it on another thread while the script
    // consumes this one (a replay reads in order; one that does not just reads it later).
    const uint64_t last = events.back().seq;
    auto next = std::upper_bound(state.terminal_seqs.begin(), state.terminal_seqs.end(), last);
    if (next != state.terminal_seqs.end())
      store_.prefetch_payload_texts(state.run_id, terminal_batch(state, *next), kReadAheadBytes);
  }
  state.read_ahead.clear();
  for (size_t i = 1; i < events.size(); ++i) {
    state.read_ahead.push_back(recorded_terminal(std::move(events[i])));
  }
  state.read_ahead_next = 0;
  return recorded_terminal(std::move(events.front()));
}

void Kernel::prefetch_replay(RunState& state) {
  // The first batch a replay in order asks for: from the first recorded step's terminal.
  const std::vector<uint64_t>& seqs = terminal_seqs(state);
  if (seqs.empty()) return;
  store_.prefetch_payload_texts(state.run_id, terminal_batch(state, seqs.front()), kReadAheadBytes);
}

Status Kernel::reconciliation_halt(RunState& state, const std::string& key, StepKind kind) {
  return halt(
      state,
      Status::failed_precondition(
          "{} step '{}' of run '{}' may or may not have had its effect (it stopped or "
          "failed during the call); reconcile it: {}",
          step_kind_name(kind), key, state.run_id.str(), reconcile_command(state.run_id, key))
          .with_kind(ErrorKind::kReconciliationRequired, key),
      RunStatus::kNeedsAttention, Json::object());
}

Status Kernel::never_live(RunState& state, const std::string& step_key, const StepRecord* step) {
  Status error;
  if (step != nullptr && step->denied_seq != 0 && !step->recorded()) {
    // Refused when the run executed (the script caught it and went on): refused again.
    error = Status::permission_denied(
                "step '{}' of run '{}' was refused ({}, seq {}) and the run {} without it",
                step_key, state.run_id.str(), error_kind_name(step->denied_kind), step->denied_seq,
                run_status_name(state.status))
                .with_kind(step->denied_kind, step_key);
    return error;  // not sticky: the script may catch it again, as it did
  }
  error =
      Status::failed_precondition("run '{}' is {} and never recorded step '{}'; it cannot go live",
                                  state.run_id.str(), run_status_name(state.status), step_key)
          .with_kind(ErrorKind::kReplayDrift, step_key);
  state.halt = error;
  return error;
}

Status Kernel::ended_during_call(const RunState& state, const std::string& step_key) {
  if (!run_ended(state.status)) return Status();
  if (state.halt) return *state.halt;
  return Status::failed_precondition(
             "run '{}' ended ({}) while step '{}' was in flight; its result is not recorded",
             state.run_id.str(), run_status_name(state.status), step_key)
      .with_kind(
          state.status == RunStatus::kCancelled ? ErrorKind::kCancelled : ErrorKind::kInvalidState,
          step_key);
}

Status Kernel::hold_lease(RunState& state) {
  if (state.lease_epoch != 0) return Status();
  return append(state, {}, std::nullopt, /*barrier=*/false).status();
}

Result<PendingStep> Kernel::open_live(std::shared_ptr<RunState> state, LiveEntry entry) {
  if (Status held = hold_lease(*state); !held.ok()) {
    return held.with_kind(held.error_kind(), entry.step_key);
  }
  StepRecord& step = state->steps[entry.step_key];
  step.kind = entry.kind;
  step.in_flight = true;
  entry.state = std::move(state);
  auto owned = std::make_unique<LiveEntry>(std::move(entry));
  std::lock_guard<std::mutex> lock(held_->mu);
  return PendingStep(this, held_->live.add(std::move(owned)));
}

Result<std::unique_ptr<Kernel::LiveEntry>> Kernel::take_live(PendingStep& step, StepKind kind) {
  std::lock_guard<std::mutex> lock(held_->mu);
  const LiveEntry* found = step.kernel_ == this ? held_->live.find(step.ticket_) : nullptr;
  if (found == nullptr) {
    return Status::invalid_argument("that {} step is not pending here (finished already?)",
                                    step_kind_name(kind));
  }
  if (found->kind != kind) {
    return Status::invalid_argument("step '{}' is a {} step, not a {} step", found->step_key,
                                    step_kind_name(found->kind), step_kind_name(kind));
  }
  return held_->live.take(step.release());
}

void Kernel::abandon(uint64_t ticket) noexcept {
  std::unique_ptr<LiveEntry> entry;
  {
    std::lock_guard<std::mutex> lock(held_->mu);
    entry = held_->live.take(ticket);
    if (!entry) return;
  }
  // The step is no longer in flight here: the next execution that reaches it decides it as
  // after a crash (a side effect requested and never completed needs reconciliation).
  std::lock_guard<std::mutex> lock(entry->state->mu);
  if (auto it = entry->state->steps.find(entry->step_key); it != entry->state->steps.end()) {
    it->second.in_flight = false;
  }
}

std::optional<uint64_t> Kernel::adopt_live(RunState& state, const std::string& key, StepKind kind,
                                           const RequestIdentity& identity) {
  std::unique_ptr<LiveEntry> forgotten;  // destroyed after the lock
  std::lock_guard<std::mutex> lock(held_->mu);
  for (uint64_t ticket : held_->live.of_run(state.run_id)) {
    LiveEntry& entry = *held_->live.find(ticket);
    if (!entry.inherited || entry.state.get() != &state || entry.step_key != key) continue;
    if (entry.kind == kind && entry.identity.same_as(identity)) {
      entry.inherited = false;
      kernel_log().info("live call adopted run={} step_key={}", state.run_id.str(), key);
      return ticket;
    }
    // Reached with another request: the old call is not this step's. Its handle's finish
    // then finds nothing pending, and nothing it returns is recorded.
    kernel_log().info("live call abandoned run={} step_key={} (the new code asks otherwise)",
                      state.run_id.str(), key);
    state.steps[key].in_flight = false;
    forgotten = held_->live.take(ticket);  // ends the loop: of_run changed
    return std::nullopt;
  }
  return std::nullopt;
}

void PendingStep::abandon() noexcept {
  if (kernel_ == nullptr) return;
  Kernel* kernel = std::exchange(kernel_, nullptr);
  kernel->abandon(std::exchange(ticket_, 0));
}

KernelStats Kernel::stats() {
  std::vector<std::shared_ptr<RunState>> runs;
  KernelStats stats;
  {
    std::lock_guard<std::mutex> lock(held_->mu);
    stats.loaded_runs = held_->runs.size();
    stats.pending_steps = held_->live.size();
    runs.reserve(held_->runs.size());
    for (const auto& [id, state] : held_->runs) runs.push_back(state);
  }
  for (const auto& state : runs) {
    std::lock_guard<std::mutex> lock(state->mu);
    stats.steps_held += state->steps.size();
    stats.bytes_held += state->bytes_held();
    stats.kept_results_replayed += state->kept_replayed;
  }
  if (kept_ != nullptr) stats.kept_result_bytes = kept_->used();
  return stats;
}

}  // namespace artana::kernel
