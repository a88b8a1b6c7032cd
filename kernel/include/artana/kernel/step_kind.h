// StepKind: every kind of step a run records, and the one table that says which ledger
// events open and end each kind. The kernel's step machine decides every kind the same way
// (replay, drift, live, halt); what differs between kinds is only this row and how a kind
// turns its recorded terminal into a result. A new kind is a new row, never a new copy of
// the replay rules. The ledger's step index (event_index.cc) reads the same table.
//
// Value types and constexpr data: thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace artana::kernel {

enum class StepKind : uint8_t {
  kModel,
  kTool,
  kTime,  // value steps: the world read once (time, random) ...
  kRandom,
  kStep,          // ... or a computation memoised (run:step)
  kVersion,       // a version marker (Temporal's GetVersion)
  kArtifactRead,  // the value of an artifact as the run saw it
  kPause,
  kSleep,
  kSummary,  // a run_summary with a step key (run:summary, artifact writes)
  // Kinds recorded by later hosts (HTTP, exec, child runs); their events are indexed now so
  // ledgers written by a newer host verify here.
  kHttp,
  kExec,
  kChild,
  kMemory,  // a value step: the script's heap as it was live (run:memory)
  kLookup,  // a value step: the keyed summaries a run:lookup found
};

struct StepKindRow {
  StepKind kind;
  std::string_view name;    // the recorded kind, as messages name it: "model", "tool", …
  std::string_view opened;  // the event that opens the step before it ends; "" when none
  std::array<std::string_view, 2> ended;  // the step's terminal events ("" when unused)
  // The step carries a request identity (hash) that replay compares: a different request
  // at a recorded step is drift, and the replay policy decides what it means.
  bool has_identity;
  // Answered by a caller between begin_* and finish_* (a model port, a tool): live, the
  // step is held by a PendingStep.
  bool live_call;
  // A replay returns what the step recorded, so its terminal is read; a summary's replay
  // returns nothing and reads nothing (a large value is never loaded back).
  bool replays_result = true;
};

inline constexpr std::array<StepKindRow, 15> kStepKinds = {{
    {StepKind::kModel, "model", "model_requested", {"model_completed", "model_failed"}, true, true},
    {StepKind::kTool, "tool", "tool_requested", {"tool_completed", ""}, true, true},
    {StepKind::kTime, "time", "", {"time_read", ""}, false, false},
    {StepKind::kRandom, "random", "", {"random_read", ""}, false, false},
    {StepKind::kStep, "step", "", {"step_completed", ""}, false, false},
    {StepKind::kVersion, "version", "", {"version_marker", ""}, false, false},
    {StepKind::kArtifactRead, "artifact_read", "", {"artifact_read", ""}, false, false},
    {StepKind::kPause, "pause", "run_paused", {"pause_resumed", ""}, false, false},
    {StepKind::kSleep, "sleep", "sleep_started", {"sleep_completed", ""}, false, false},
    {StepKind::kSummary, "summary", "", {"run_summary", ""}, false, false, false},
    {StepKind::kHttp, "http", "http_requested", {"http_completed", ""}, true, true},
    {StepKind::kExec, "exec", "exec_requested", {"exec_completed", ""}, true, true},
    {StepKind::kChild, "child", "child_started", {"child_completed", ""}, true, false},
    {StepKind::kMemory, "memory", "", {"memory_read", ""}, false, false},
    {StepKind::kLookup, "lookup", "", {"lookup_read", ""}, false, false},
}};

constexpr const StepKindRow& step_kind_row(StepKind kind) {
  return kStepKinds[static_cast<size_t>(kind)];
}
constexpr std::string_view step_kind_name(StepKind kind) { return step_kind_row(kind).name; }

constexpr std::optional<StepKind> parse_step_kind(std::string_view name) {
  for (const StepKindRow& row : kStepKinds) {
    if (row.name == name) return row.kind;
  }
  return std::nullopt;
}

// The kinds Kernel::value_step records: one terminal, payload {step_key, value}.
constexpr bool is_value_kind(StepKind kind) {
  return kind == StepKind::kTime || kind == StepKind::kRandom || kind == StepKind::kStep ||
         kind == StepKind::kVersion || kind == StepKind::kArtifactRead ||
         kind == StepKind::kMemory || kind == StepKind::kLookup;
}

// Which kind an event belongs to, and whether it ends the step (else it opens it).
struct StepEventRole {
  StepKind kind;
  bool ends;
};
constexpr std::optional<StepEventRole> step_event_role(std::string_view type) {
  for (const StepKindRow& row : kStepKinds) {
    if (!row.opened.empty() && row.opened == type) return StepEventRole{row.kind, false};
    for (std::string_view end : row.ended) {
      if (!end.empty() && end == type) return StepEventRole{row.kind, true};
    }
  }
  return std::nullopt;
}

static_assert(
    [] {
      for (size_t i = 0; i < kStepKinds.size(); ++i) {
        if (static_cast<size_t>(kStepKinds[i].kind) != i) return false;
      }
      return true;
    }(),
    "kStepKinds rows are in StepKind order");

}  // namespace artana::kernel
