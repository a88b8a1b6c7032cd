// Per-run PII redaction: real values become typed placeholders ([EMAIL_1], [PHONE_2], …)
// numbered per run, the same value always getting the same placeholder.
//
// Numbering must come out the same when a run is replayed in another process, because the
// recorded requests (and their hashes) hold the placeholders, and no real value may ever be
// written down to remember them by. So every event that allocated placeholders records how
// many of each type ("pii_allocated": {"EMAIL": 1}), and:
//  - a replayed request is scrubbed again in the script's order (kReplay: numbers follow
//    `counts`, which replay rebuilds exactly as the first run did);
//  - a replayed result (model output, tool result, resume input) is not scrubbed again — its
//    recorded allocation just advances `counts`;
//  - a live value (kLive) is numbered after everything the run ever recorded.
// A value first seen in a result and then typed again by the script itself in a later
// request is the one case numbering cannot follow across processes (it gets a new number);
// no real value is ever written in any case.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "artana/kernel/json.h"

namespace artana::kernel {

struct PiiState {
  std::unordered_map<std::string, std::string> placeholder_of;  // real value -> placeholder
  std::map<std::string, int64_t> counts;    // type label -> numbers used in script order
  std::map<std::string, int64_t> recorded;  // type label -> allocations the run recorded
};

enum class ScrubMode { kReplay, kLive };

// Whether any string inside `value` (never object keys) holds something scrub_pii replaces.
bool contains_pii(const Json& value);
// Rewrites every string inside `value` (never object keys); adds the allocations made to
// `allocated` ({"EMAIL": n, …}).
void scrub_pii(PiiState& state, Json& value, ScrubMode mode, Json& allocated);
// Adds an event's "pii_allocated" to `counts` (a replayed result) or `recorded`.
void advance_pii_counts(PiiState& state, const Json* allocated);
void add_recorded_pii(PiiState& state, const Json* allocated);

}  // namespace artana::kernel
