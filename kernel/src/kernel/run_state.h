// RunState: what the kernel keeps in memory about a loaded run — its tenant context, status
// and the step index (step key -> recorded request and terminal), built once from the run's
// events when it is loaded and kept current as the kernel appends. Replay looks steps up
// here: O(1) per step, nothing rescans the run.
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
#include <unordered_map>
#include <utility>

#include "artana/kernel/event.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/step_kind.h"
#include "artana/kernel/tool_registry.h"
#include "middleware/pii_redactor.h"

namespace artana::kernel {

struct RecordedTerminal {
  std::string type;
  uint64_t seq = 0;
  Json payload;
};

// How a recorded step ended, as the step machine needs to know it.
enum class StepEnd : uint8_t {
  kOpen,             // opened (requested, paused, sleeping) and not ended
  kSucceeded,        // a result to replay
  kFailed,           // a failure to replay (retry_failed reopens it for steps without effects)
  kFailedTransient,  // a failure worth retrying (retry_failed reopens it)
  kUnknown,          // a side effect that may or may not have happened: reconcile it
};

struct StepRecord {
  StepKind kind = StepKind::kModel;
  std::string request_hash;  // hex; empty for kinds without a request identity
  Json request;
  uint64_t request_seq = 0;  // seq of the step's first event (a fork point precedes it)
  std::optional<RecordedTerminal> terminal;
  StepEnd end = StepEnd::kOpen;
  std::set<std::string> drift_noted;         // request hashes a replayed_with_drift was written for
  uint64_t denied_seq = 0;                   // the last step_denied of this step (a refusal), or 0
  ErrorKind denied_kind = ErrorKind::kNone;  // its error kind
  bool in_flight = false;                    // begun live, not finished yet
  bool retry_armed = false;  // an operator's reconcile `retry` allows one live attempt
  bool reached = false;      // the script reached it again in this execution
  bool side_effect = false;  // tool steps: as requested (absent: assume it has one)

  // Something of the step is in the ledger (more than a refusal or a call in flight).
  bool recorded() const { return request_seq != 0 || terminal.has_value(); }
};

// Completed, failed or cancelled: the run will not run a script again.
inline bool run_ended(RunStatus status) {
  return status == RunStatus::kCompleted || status == RunStatus::kFailed ||
         status == RunStatus::kCancelled;
}

class RunState {
 public:
  // Folds one recorded event into the state (loading, and after each append).
  Status apply(const Event& event);
  // After loading: every recorded step is ahead of the script, which is replaying.
  void start_replay();
  // The script reached recorded step `key` again: its result's placeholders advance the
  // numbering, and once every recorded step was reached the run is live.
  void reached(const std::string& key, const RecordedTerminal& terminal);
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
  std::shared_ptr<RunState> forked_to;    // fork_on_drift moved execution there
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
  Json script_identity;  // the last script_loaded payload; null when none
  // Sleeps started and not completed, by due time: wake_time is the first.
  std::set<std::pair<int64_t, std::string>> sleeps_due;
  // Artifact key -> seq of its latest run_summary `artifact::<key>`. Read back from the store
  // when asked rather than held here: artifacts may be large.
  std::unordered_map<std::string, uint64_t> artifacts;
  // set_run_tools: the run's own registry (not persisted); null: the kernel's. Shared so a
  // tool call begun under a replaced registry keeps its tool alive.
  std::shared_ptr<const ToolRegistry> tools;
  std::mutex mu;

 private:
  // A step's opening or terminal event (kStepKinds).
  void apply_step_event(const Event& event, const std::string& key, StepEventRole role);

  size_t unreached_ = 0;  // recorded steps the script has not reached yet (StepRecord::reached)
};

}  // namespace artana::kernel
