// Events: the ledger's unit. A run's events form a SHA-256 hash chain.
//
// `hash` = SHA-256 over the RFC 8785 canonical JSON of the event without its `hash` member;
// those canonical bytes are exactly what the store keeps (docs/ledger_format.md).
// Value types, thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/sha256.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

// Identifiers are strings chosen by callers (validated by the store with check_identifier).
// Distinct types so a tenant is never passed where a run is expected.
// A run or tenant id: 1..200 bytes of printable ASCII without spaces, quotes or
// backslashes (its JSON form is itself in quotes). invalid_argument naming `what` otherwise.
Status check_identifier(std::string_view what, std::string_view id);

class RunId {
 public:
  RunId() = default;
  explicit RunId(std::string value) : value_(std::move(value)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  friend auto operator<=>(const RunId&, const RunId&) = default;

 private:
  std::string value_;
};

class TenantId {
 public:
  TenantId() = default;
  explicit TenantId(std::string value) : value_(std::move(value)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  friend auto operator<=>(const TenantId&, const TenantId&) = default;

 private:
  std::string value_;
};

// What a caller asks to append; the store assigns everything else.
struct EventDraft {
  std::string type;  // snake_case event type, e.g. "model_completed"
  Json payload;      // must be a JSON object
};

// Drafts moved into a vector. A braced list (`{{type, std::move(payload)}}`) would copy every
// payload: an initializer_list's elements are const, so a vector built from one copies them.
template <typename... Drafts>
std::vector<EventDraft> event_drafts(Drafts&&... drafts) {
  std::vector<EventDraft> out;
  out.reserve(sizeof...(drafts));
  (out.push_back(std::forward<Drafts>(drafts)), ...);
  return out;
}

struct Event {
  std::string event_id;  // 26 lowercase base32 characters (128 random bits)
  RunId run_id;
  TenantId tenant_id;
  uint64_t seq = 0;  // 1-based, dense within a run
  std::string type;
  std::string timestamp;  // RFC 3339 UTC with microseconds: 2026-11-24T10:04:05.123456Z
  Sha256 prev_hash;       // all zero for seq 1 of a run that is not a fork
  Sha256 hash;
  Json payload;  // the logical payload: large values already inlined
};

// The value of prev_hash for the first event of a run.
inline Sha256 genesis_hash() { return Sha256{}; }

}  // namespace artana::kernel
