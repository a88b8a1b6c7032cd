// StepIndexRecord: what the ledger's `steps` index keeps for each step of a run, and the one
// fold that builds it from the step's events. The store folds every appended event into the
// record in the append's transaction, `verify` folds the events again to check it, and the
// kernel folds the events it appends into the copy it holds — so a run loads from its index
// (one small record per step, whatever the payloads) and replay reads a recorded result by
// seq only when the script reaches it.
//
// The encoding is part of the ledger format (docs/ledger_format.md): fields are appended at the
// end behind a new format byte, never reordered. StepKind and StepEnd values are stored as
// bytes: append new enumerators at the end of their enums.
//
// Value types: thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "artana/kernel/error_kind.h"
#include "artana/kernel/json.h"
#include "artana/kernel/sha256.h"
#include "artana/kernel/status.h"
#include "artana/kernel/step_kind.h"

namespace artana::kernel {

// How a recorded step ended, as the step machine needs to know it.
enum class StepEnd : uint8_t {
  kOpen,             // opened (requested, paused, sleeping) and not ended
  kSucceeded,        // a result to replay
  kFailed,           // a failure to replay (retry_failed reopens it for steps without effects)
  kFailedTransient,  // a failure worth retrying (retry_failed reopens it)
  kUnknown,          // a side effect that may or may not have happened: reconcile it
};

// Placeholders allocated per PII type label ({"EMAIL": 2} in an event's "pii_allocated").
using PiiCounts = std::vector<std::pair<std::string, int64_t>>;

// What few steps have: kept out of line so a record stays small (a loaded run holds one per
// step).
struct StepExtras {
  std::vector<Sha256> drift_noted;  // request hashes a replayed_with_drift was written for
  PiiCounts pii_terminal;           // placeholders its terminal allocated (replay advances them)
  PiiCounts pii_total;              // placeholders all its events allocated
  bool empty() const { return drift_noted.empty() && pii_terminal.empty() && pii_total.empty(); }
};

// A value step's recorded value when it is a scalar (run:now, run:random, versions): kept in
// the step's record, so replaying it reads no event. kNone for every other step and value.
struct InlineValue {
  enum class Type : uint8_t { kNone, kNull, kFalse, kTrue, kInteger, kDouble };
  Type type = Type::kNone;
  uint64_t bits = 0;  // the int64, or the double's bit pattern

  // kNone unless `value` is a scalar other than a string.
  static InlineValue of(const Json* value);
  bool has() const { return type != Type::kNone; }
  // REQUIRES: has().
  Json json() const;
  bool operator==(const InlineValue&) const = default;
};

struct StepIndexRecord {
  StepKind kind = StepKind::kModel;
  StepEnd end = StepEnd::kOpen;
  bool side_effect = false;  // tool steps: as requested (absent: assume it has one)
  bool retry_armed = false;  // an operator's reconcile `retry` allows one live attempt
  ErrorKind denied_kind = ErrorKind::kNone;  // its last refusal's error kind
  std::optional<Sha256> request_hash;        // kinds with a request identity
  uint64_t open_seq = 0;       // the step's first event (the terminal when it has no opener)
  uint64_t terminal_seq = 0;   // its terminal, 0 while it has none
  uint64_t denied_seq = 0;     // its last step_denied (a refusal), 0 when none
  int64_t due_at_us = 0;       // sleeps: when the timer is due
  int64_t cost_micro_usd = 0;  // every cost recorded in the step's events
  InlineValue value;           // its terminal's value, when that is inlined (see above)

  StepIndexRecord() = default;
  StepIndexRecord(const StepIndexRecord& other) { *this = other; }
  StepIndexRecord& operator=(const StepIndexRecord& other);
  StepIndexRecord(StepIndexRecord&&) noexcept = default;
  StepIndexRecord& operator=(StepIndexRecord&&) noexcept = default;

  // Something of the step is in the ledger (more than a refusal or a call in flight).
  bool recorded() const { return open_seq != 0 || terminal_seq != 0; }
  // A replay reads its terminal from the ledger: it has one, not inlined in this record,
  // and its kind replays a result (StepKindRow::replays_result).
  bool replay_reads_terminal() const {
    return terminal_seq != 0 && !value.has() && step_kind_row(kind).replays_result;
  }
  // The out-of-line part (empty ones when the step has none).
  const StepExtras& extras() const;
  StepExtras& mutable_extras();
  bool has_extras() const { return extras_ != nullptr; }

 private:
  std::unique_ptr<StepExtras> extras_;
};

// One event's contribution to its step's record.
struct StepDelta {
  // kNote: an event of no step that allocated placeholders or cost something (a summary
  // without a step key): folded into the run's record under the empty key, which no step
  // has, so a loaded run knows every allocation and cost without reading the event.
  enum class Role : uint8_t { kOpened, kEnded, kDenied, kRetryArmed, kDriftNoted, kNote };
  std::string step_key;
  Role role = Role::kOpened;
  std::optional<StepKind> kind;       // kOpened, kEnded; kDenied: the step_kind it names
  std::optional<Sha256> hash;         // kOpened: request_hash; kDriftNoted: the drifted request
  bool side_effect = false;           // kOpened of a tool
  std::optional<int64_t> due_at_us;   // kOpened of a sleep
  StepEnd end = StepEnd::kSucceeded;  // kEnded
  InlineValue value;                  // kEnded of a value step
  ErrorKind denied_kind = ErrorKind::kNone;  // kDenied
  PiiCounts pii;
  int64_t cost_micro_usd = 0;
};

// What `type` with `payload` contributes to a step, or nullopt when it is no step's event.
// kInvalidArgument naming the field when a step field is malformed.
Result<std::optional<StepDelta>> step_delta(std::string_view type, const Json& payload);
// Folds the contribution of the event at `seq` into its step's record.
void apply_step_delta(StepIndexRecord& record, const StepDelta& delta, uint64_t seq);

std::string encode_step_record(std::string_view step_key, const StepIndexRecord& record);
// kCorruption naming `where` when the bytes are not a record.
Result<std::pair<std::string, StepIndexRecord>> decode_step_record(std::string_view bytes,
                                                                   std::string_view where);

// Adds {"LABEL": n, …} to `counts`; ignores anything else.
void add_pii_counts(PiiCounts& counts, const Json* allocated);

}  // namespace artana::kernel
