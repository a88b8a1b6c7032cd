#include "kernel/run_state.h"

#include <algorithm>

#include "artana/kernel/event_index.h"
#include "artana/kernel/json_parse.h"
#include "kernel/event_types.h"

namespace artana::kernel {
namespace {

const std::string* string_field(const Json& payload, std::string_view name) {
  const Json* v = payload.find(name);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

void add_counts(std::map<std::string, int64_t>& to, const PiiCounts& from) {
  for (const auto& [label, n] : from) to[label] += n;
}

}  // namespace

Status RunState::load_step(std::string&& key, StepIndexRecord&& record) {
  spend_micro_usd += record.cost_micro_usd;
  add_counts(pii.recorded, record.extras().pii_total);
  if (record.replay_reads_terminal()) terminal_seqs.push_back(record.terminal_seq);
  if (key.empty()) return Status();  // the run's notes (StepDelta::Role::kNote): no step
  StepRecord step;
  static_cast<StepIndexRecord&>(step) = std::move(record);
  auto [it, inserted] = steps.emplace(std::move(key), std::move(step));
  if (!inserted)
    return Status::corruption("run '{}': step '{}' has two records in the index", run_id.str(),
                              it->first);
  recorded_order_.push_back(&*it);
  return Status();
}

Status RunState::load(const RunIndex& index, const std::vector<Event>& facts) {
  tenant.tenant_id = index.info.header.tenant_id;
  order_recorded();
  for (const auto* entry : recorded_order_) {
    const auto& [key, step] = *entry;
    if (step.end == StepEnd::kOpen && step.open_seq != 0) {
      if (step.kind == StepKind::kSleep) sleeps_due.emplace(step.due_at_us, key);
      if (step.kind == StepKind::kPause) open_pause = key;
    }
    if (step.kind == StepKind::kChild) has_children = true;
  }
  for (const auto& [name, seq] : index.latest) {
    if (name.starts_with("run_summary:artifact::")) {
      artifacts[name.substr(std::string_view("run_summary:artifact::").size())] = seq;
    }
  }
  std::sort(terminal_seqs.begin(), terminal_seqs.end());
  for (const Event& fact : facts) ARTANA_RETURN_IF_ERROR(apply_fact(fact));
  status = index.info.status;
  head_seq = index.info.head_seq;
  start_replay();
  return Status();
}

void RunState::begin_execution() {
  recorded_order_.clear();
  recorded_order_.reserve(steps.size());
  for (auto& entry : steps) recorded_order_.push_back(&entry);
  order_recorded();
  // Gathered again from the steps by the first replayed read (Kernel::read_terminal).
  terminal_seqs.clear();
  read_ahead.clear();
  read_ahead_next = 0;
  pii.counts.clear();
  pii.placeholder_of.clear();
  halt.reset();
  old_versions.clear();
  start_replay();
}

void RunState::order_recorded() {
  // The index lists steps by key; held in the order they were recorded (the order a replay
  // reaches them), consecutive lookups touch neighbouring memory. A step not recorded
  // (open_seq 0: a call in flight when the run was reloaded) is reached last, after every
  // recorded one: it goes at the end, or each replay would begin off the expected order. Not
  // a stable sort: ties (such steps) come in the map's order either way, and stable_sort's
  // buffer was a heap allocation at every restart.
  std::sort(recorded_order_.begin(), recorded_order_.end(), [](const auto* a, const auto* b) {
    const uint64_t first = a->second.open_seq - 1, second = b->second.open_seq - 1;
    return first < second;  // 0 wraps to the largest
  });
  for (size_t i = 0; i < recorded_order_.size(); ++i)
    recorded_order_[i]->second.order = static_cast<uint32_t>(i);
}

void RunState::start_replay() {
  unreached_ = 0;
  next_in_order_ = 0;
  for (auto& [key, step] : steps) {
    step.reached = false;
    unreached_ += step.has_terminal() ? 1 : 0;
  }
}

StepRecord* RunState::find_step(const std::string& key) {
  if (next_in_order_ < recorded_order_.size()) {
    auto* expected = recorded_order_[next_in_order_];
    if (expected->first == key) {
      ++next_in_order_;
      return &expected->second;
    }
  }
  auto it = steps.find(key);
  if (it == steps.end()) return nullptr;
  // Out of order (parallel branches, a script that changed): guess from here on.
  const uint32_t order = it->second.order;
  if (order < recorded_order_.size() && recorded_order_[order] == &*it) next_in_order_ = order + 1;
  return &it->second;
}

// A flag on the step, not a set of keys: reaching a step stays O(1) however long the run.
void RunState::reached(StepRecord& step) {
  add_counts(pii.counts, step.extras().pii_terminal);
  if (step.reached) return;
  step.reached = true;
  if (unreached_ > 0 && --unreached_ == 0) {
    // Live from here on: nothing more to read ahead.
    std::vector<uint64_t>().swap(terminal_seqs);
    std::vector<RecordedTerminal>().swap(read_ahead);
    std::vector<std::pair<const std::string, StepRecord>*>().swap(recorded_order_);
    next_in_order_ = 0;
  }
}

void RunState::inherit_reached(const RunState& parent) {
  for (const auto& [key, parent_step] : parent.steps) {
    if (!parent_step.reached) continue;
    auto it = steps.find(key);
    if (it != steps.end() && it->second.has_terminal() && !it->second.reached) {
      it->second.reached = true;
      if (unreached_ > 0) --unreached_;
    }
  }
}

Status RecordedTerminal::parse(const RunId& run) {
  if (text.empty()) return Status();
  Result<Json> parsed = parse_json(text, "payload");
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::corruption(
        "run '{}' seq {}: the recorded payload is not a JSON object ({}); run `artana ledger "
        "verify`",
        run.str(), seq, parsed.ok() ? "another value" : parsed.status().message());
  }
  payload = std::move(parsed).value();
  std::string().swap(text);
  return Status();
}

size_t RunState::bytes_held() const {
  // The map's node (key, record, next pointer, cached hash) and its bucket slot.
  size_t bytes = sizeof(RunState) + steps.bucket_count() * sizeof(void*);
  for (const auto& [key, step] : steps) {
    bytes += sizeof(std::pair<const std::string, StepRecord>) + 2 * sizeof(void*);
    if (key.capacity() > 15) bytes += key.capacity() + 1;
    if (step.has_extras()) {
      const StepExtras& extras = step.extras();
      bytes += sizeof(StepExtras) + extras.drift_noted.capacity() * sizeof(Sha256) +
               (extras.pii_terminal.capacity() + extras.pii_total.capacity()) *
                   sizeof(PiiCounts::value_type);
    }
  }
  bytes += terminal_seqs.capacity() * sizeof(uint64_t) + script_identity_text.capacity();
  bytes += recorded_order_.capacity() * sizeof(void*);
  bytes += read_ahead.capacity() * sizeof(RecordedTerminal);
  for (const RecordedTerminal& terminal : read_ahead) {
    bytes += json_bytes(terminal.payload) + terminal.text.capacity();
  }
  return bytes;
}

Status RunState::apply(const Event& event, const IndexEntries* indexed,
                       std::string_view stored_text) {
  head_seq = std::max(head_seq, event.seq);
  IndexEntries computed;
  if (indexed == nullptr) {
    ARTANA_ASSIGN_OR_RETURN(computed, index_event(event.type, event.payload));
    indexed = &computed;
  }
  const IndexEntries& entries = *indexed;
  // Costs and placeholders are recorded by step events (a run's input: run_started, below).
  if (entries.step) {
    StepRecord* step = apply_step(*entries.step, event.seq);
    if (step != nullptr && !stored_text.empty())
      keep_result(*step, event.seq, event.type, stored_text);
  }
  if (entries.latest && entries.latest->starts_with("run_summary:artifact::")) {
    artifacts[entries.latest->substr(std::string_view("run_summary:artifact::").size())] =
        event.seq;
  }
  return apply_fact(event);
}

Status RunState::apply_fact(const Event& event) {
  namespace ev = events;
  const Json& p = event.payload;
  if (event.type == ev::kRunStarted) {
    started = true;
    if (const Json* tenant_json = p.find("tenant")) {
      ARTANA_ASSIGN_OR_RETURN(tenant, TenantContext::from_json(*tenant_json));
    }
    if (const std::string* name = string_field(p, "replay_policy")) {
      ARTANA_ASSIGN_OR_RETURN(policy, parse_replay_policy(*name));
    }
    // The script always starts after run_started: its input's placeholders come first.
    advance_pii_counts(pii, p.find("pii_allocated"));
    add_recorded_pii(pii, p.find("pii_allocated"));
    if (const std::string* hash = string_field(p, "script_hash")) script_hash = *hash;
    if (const Json* v = p.find("input")) input = *v;
    if (const Json* v = p.find("metadata")) metadata = *v;
    if (const std::string* parent = string_field(p, "parent_run_id")) {
      parent_run_id = RunId(*parent);
    }
  } else if (event.type == ev::kScriptLoaded) {
    script_identity = p;
    script_identity_text.clear();
  } else if (event.type == ev::kBudgetRaised) {
    if (const Json* budget = p.find("budget_micro_usd"); budget && budget->is_integer()) {
      tenant.budget_micro_usd = budget->as_integer();
    }
  } else if (event.type == ev::kCapabilityGranted) {
    if (const std::string* cap = string_field(p, "capability");
        cap && !tenant.has_capability(*cap)) {
      tenant.capabilities.insert(
          std::lower_bound(tenant.capabilities.begin(), tenant.capabilities.end(), *cap), *cap);
    }
  } else if (event.type == ev::kCancelRequested) {
    const std::string* reason = string_field(p, "reason");
    cancel_requested = reason != nullptr ? *reason : "cancelled by the operator";
  } else if (event.type == ev::kReplayedWithDrift) {
    if (const std::string* fork = string_field(p, "fork_run_id")) fork_run_id = RunId(*fork);
  } else if (event.type == ev::kChildWaiting) {
    const std::string* key = string_field(p, "step_key");
    const std::string* child = string_field(p, "child_run_id");
    const std::string* stood = string_field(p, "status");
    if (key == nullptr || child == nullptr || stood == nullptr) {
      return Status::corruption(
          "run '{}' seq {}: child_waiting without step_key, child_run_id "
          "or status",
          run_id.str(), event.seq);
    }
    // Loaded after the steps: a child that completed since no longer holds the run.
    auto step = steps.find(*key);
    if (step != steps.end() && step->second.terminal_seq > event.seq) return Status();
    ChildWait wait{*key, RunId(*child), RunStatus::kPaused, Json(), std::nullopt, event.seq};
    ARTANA_ASSIGN_OR_RETURN(wait.status, parse_run_status(*stood));
    if (const Json* error = p.find("error")) wait.error = *error;
    if (const Json* due = p.find("due_at_us"); due != nullptr && due->is_integer()) {
      wait.due_at_us = due->as_integer();
    }
    child_wait = std::move(wait);
  }
  return Status();
}

void RunState::keep_result(StepRecord& step, uint64_t seq, std::string_view type,
                           std::string_view text) {
  if (kept_budget == nullptr || step.terminal_seq != seq || !step.replay_reads_terminal()) return;
  if (step.terminal_kept()) return;
  if (KeptResult::Ptr kept = KeptResult::make(seq, type, text, kept_budget))
    step.kept = std::move(kept);
}

void RunState::forget_kept() {
  if (kept_budget == nullptr) return;
  for (auto& [key, step] : steps) step.kept.reset();
}

StepRecord* RunState::apply_step(const StepDelta& delta, uint64_t seq) {
  spend_micro_usd += delta.cost_micro_usd;
  add_counts(pii.recorded, delta.pii);
  if (delta.role == StepDelta::Role::kNote) return nullptr;
  StepRecord& step = steps[delta.step_key];
  const bool was_open = step.end == StepEnd::kOpen && step.open_seq != 0;
  const int64_t old_due = step.due_at_us;
  apply_step_delta(step, delta, seq);
  const bool open = step.end == StepEnd::kOpen && step.open_seq != 0;
  if (step.kind == StepKind::kSleep) {
    if (was_open) sleeps_due.erase({old_due, delta.step_key});
    if (open) sleeps_due.emplace(step.due_at_us, delta.step_key);
  } else if (step.kind == StepKind::kPause) {
    if (open) {
      open_pause = delta.step_key;
    } else if (open_pause == delta.step_key) {
      open_pause.reset();
    }
  } else if (step.kind == StepKind::kChild) {
    has_children = true;
    if (step.has_terminal() && child_wait && child_wait->step_key == delta.step_key) {
      child_wait.reset();  // the child ended: it holds the run no more
    }
  }
  return &step;
}

}  // namespace artana::kernel
