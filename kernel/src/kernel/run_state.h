// RunState: what the kernel keeps in memory about a loaded run — its tenant context, status
// and one small record per step (step key -> StepRecord: kind, seqs, request hash, PII
// counts; never a request, and a result only as kept for the next execution here, within
// the kernel's budget: KeptResult), loaded from the ledger's step index and kept current by
// folding each event the kernel appends, as the ledger folds it. Replay looks steps up here
// (O(1) per step, nothing rescans the run) and reads a result by seq when it returns it.
//
// Not thread-safe by itself: the kernel holds `mu` while it reads or changes a RunState.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "artana/kernel/commit_mark.h"
#include "artana/kernel/error_kind.h"
#include "artana/kernel/event.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/step_index.h"
#include "artana/kernel/step_kind.h"
#include "artana/kernel/tool_registry.h"
#include "kernel/kept_result.h"
#include "middleware/pii_redactor.h"

namespace artana::kernel {

// A step's terminal event, read from the ledger by seq when a replay returns it. A replay
// reads its payload as text (EventStore::read_payload_texts) and parses it only when a kind
// needs its values (Kernel::decide); a model step's result can go to the script as the text.
struct RecordedTerminal {
  std::string type;
  uint64_t seq = 0;
  Json payload;      // the parsed payload: null until parse() while `text` is held
  std::string text;  // the payload's canonical text, until parsed

  // Parses `text` into `payload` (nothing to do once parsed). Text that is not a JSON object
  // (edited and hashed again) is corruption, as an edit the hash catches is.
  Status parse(const RunId& run);
};

// A step as the kernel holds it: its ledger record (step_index.h; no request, no result) and
// what this process knows of it beside.
struct StepRecord : StepIndexRecord {
  bool in_flight = false;  // begun live, not finished yet
  bool reached = false;    // the script reached it again in this execution
  uint32_t order = 0;      // its place in RunState::recorded_order_ (loaded steps)
  KeptResult::Ptr kept;    // null, or possibly for an earlier terminal

  bool has_terminal() const { return terminal_seq != 0; }
  // Its terminal is kept in memory: a replay need not read it.
  bool terminal_kept() const { return kept != nullptr && kept->seq() == terminal_seq; }
};

// A terminal just appended, as a replay would read it.
inline RecordedTerminal recorded_terminal(Event&& event) {
  return RecordedTerminal{std::move(event.type), event.seq, std::move(event.payload), {}};
}
inline RecordedTerminal recorded_terminal(PayloadText&& read) {
  return RecordedTerminal{std::move(read.type), read.seq, std::move(read.payload),
                          std::move(read.text)};
}

// `payload` with the step's recorded request hash, when it has one.
inline Json with_request_hash(Json payload, const StepIndexRecord& step) {
  if (step.request_hash) payload.set("request_hash", step.request_hash->hex());
  return payload;
}

class RunState {
 public:
  // Loading a run: each of its step records (EventStore::run_index's StepVisitor, in any
  // order), then load() with the rest of its index; `facts` are the events its `latest`
  // entries name that load reads (run_started, script_loaded, …), in seq order.
  Status load_step(std::string&& key, StepIndexRecord&& record);
  Status load(const RunIndex& index, const std::vector<Event>& facts);
  // Folds one event the kernel appended into the state.
  // `indexed`: what the store indexed for the event (AppendResult::indexes), if known;
  // `stored_text`: its payload's text (AppendResult::payload_texts), kept when the event
  // ends a step (keep_result); empty when the store gave none.
  Status apply(const Event& event, const IndexEntries* indexed = nullptr,
               std::string_view stored_text = {});
  // Keeps a copy of `text`, the payload of `step`'s terminal at `seq` of type `type`, for
  // the next execution's replay, if the kernel's budget has room. Nothing happens otherwise.
  // REQUIRES: `text` is not empty.
  void keep_result(StepRecord& step, uint64_t seq, std::string_view type, std::string_view text);
  // Lets every kept result go (the run ended: no execution of it comes).
  void forget_kept();
  // After loading: every recorded step is ahead of the script, which is replaying.
  void start_replay();
  // A new execution of the run here (a hot reload, Kernel::reload): the view load() would
  // give from the ledger, made from this one in memory. What the ledger holds stays (steps,
  // facts, spend, the lease, calls in flight); what the last execution learnt goes — the
  // steps it reached, PII numbering in script order, a halt, old-path answers, the read
  // ahead — and every recorded step is ahead of the script again.
  void begin_execution();
  // The step at `key`, or null. A replay reaches the loaded steps in the order they were
  // recorded, so the one after the last found is tried first: in a map of 10 000 steps a hash
  // lookup is two cache misses (its bucket, then the node before it), the guess one string
  // compare on memory the previous step's neighbour already brought in.
  StepRecord* find_step(const std::string& key);
  // The script reached recorded `step` again: its terminal's placeholders advance the
  // numbering, and once every recorded step was reached the run is live.
  void reached(StepRecord& step);
  bool replaying() const { return unreached_ > 0; }
  // A terminal was recorded for `key` by someone other than the script (an operator's
  // resume of a pause): ahead of the script until it reaches the step again.
  void recorded_ahead(const std::string& key) {
    auto it = steps.find(key);
    if (it == steps.end() || !it->second.reached) ++unreached_;
  }
  // A fork goes on from where the script is in its parent: the shared steps it reached
  // there count as reached here.
  void inherit_reached(const RunState& parent);
  // About how many bytes the state holds (Kernel::stats).
  size_t bytes_held() const;

  RunId run_id;
  TenantContext tenant;
  ReplayPolicy policy = ReplayPolicy::kStrict;
  RunStatus status = RunStatus::kRunning;
  uint64_t head_seq = 0;
  uint64_t lease_epoch = 0;     // 0 until this kernel's first append takes the lease
  int64_t spend_micro_usd = 0;  // every cost recorded in the run's events (a fork's prefix too)
  PiiState pii;
  std::unordered_map<std::string, StepRecord> steps;
  std::optional<Status> halt;             // sticky: every later step call returns it
  std::optional<std::string> open_pause;  // the step key of a pause not resumed yet
  // The reason of a cancel_requested another process recorded (applied at the next step).
  std::optional<std::string> cancel_requested;
  std::shared_ptr<RunState> forked_to;  // fork_on_drift moved execution there
  // The fork a replayed_with_drift named, read from the ledger: linked (forked_to) the first
  // time the chain is followed, so another process goes where the run went.
  std::optional<RunId> fork_run_id;
  bool started = false;  // run_started was applied (a crash can leave a run without it)
  std::set<std::string> old_versions;  // change ids answered 0 (the old path) this process
  // From run_started (a fork has its parent's): what run_record reports.
  std::string script_hash;
  Json input;
  Json metadata = Json::object();
  std::optional<RunId> parent_run_id;
  // The child run that holds this one (its last child_waiting, until its child_completed).
  struct ChildWait {
    std::string step_key;
    RunId child_run_id;
    RunStatus status = RunStatus::kPaused;
    Json error;
    std::optional<int64_t> due_at_us;
    uint64_t seq = 0;
  };
  std::optional<ChildWait> child_wait;
  bool has_children = false;  // a child step was recorded: its spend is in the tree's totals
  Json script_identity;       // the last script_loaded payload; null when none
  // Its canonical text, made the first time an execution's identity is compared with it
  // (Kernel::record_script: every execution of the run, each restart of a hot reload).
  std::string script_identity_text;
  // Sleeps started and not completed, by due time: wake_time is the first.
  std::set<std::pair<int64_t, std::string>> sleeps_due;
  // Artifact key -> seq of its latest run_summary `artifact::<key>`. Read back from the store
  // when asked rather than held here: artifacts may be large.
  std::unordered_map<std::string, uint64_t> artifacts;
  // set_run_tools: the run's own registry (not persisted); null: the kernel's. Shared so a
  // tool call begun under a replaced registry keeps its tool alive.
  std::shared_ptr<const ToolRegistry> tools;
  // Replay reads recorded results ahead, in seq order, a bounded batch per ledger read
  // (Kernel::read_terminal): the loaded steps' terminal seqs, sorted, and the batch read.
  // Both are dropped once every recorded step was reached.
  std::vector<uint64_t> terminal_seqs;
  std::vector<RecordedTerminal> read_ahead;  // in seq order; taken ones have seq 0
  size_t read_ahead_next = 0;                // where the next one in order should be
  // The kernel's budget for kept results (null: nothing is kept), and how many replayed
  // steps they answered (KernelStats::kept_results_replayed).
  std::shared_ptr<KeptBudget> kept_budget;
  uint64_t kept_replayed = 0;
  // Its pipelined appends (KernelOptions::pipelined_commits): one mark for a fork chain, so
  // a host watching the run sees the appends of the fork it went on in.
  std::shared_ptr<CommitMark> mark = std::make_shared<CommitMark>();
  std::mutex mu;

 private:
  // Run-level facts of an event (tenant, policy, budget, grants, script, fork).
  Status apply_fact(const Event& event);
  // Sorts recorded_order_ by when each step was opened and numbers StepRecord::order.
  void order_recorded();
  // Folds a step event's delta into its record and the sets derived from records; the
  // record, or null for a note.
  StepRecord* apply_step(const StepDelta& delta, uint64_t seq);

  size_t unreached_ = 0;  // recorded steps the script has not reached yet (StepRecord::reached)
  // The loaded steps in the order they were recorded (find_step's guesses; StepRecord::order
  // is a step's place here) and the next one expected. Dropped with terminal_seqs.
  std::vector<std::pair<const std::string, StepRecord>*> recorded_order_;
  size_t next_in_order_ = 0;
};

}  // namespace artana::kernel
