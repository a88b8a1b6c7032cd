// Event codec: the bytes an event is hashed and stored as, and back.
//
// Stored value in the `log` database: u8 format=1 | 32-byte SHA-256 | canonical event text,
// where the canonical text is the RFC 8785 form of
//   {"event_id","payload","prev_hash","run_id","seq","tenant_id","timestamp","type"}
// (that key order is already the JCS order) and the hash is SHA-256 of exactly that text.
// Verification hashes these stored bytes; nothing is re-serialised to check a hash.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/event.h"
#include "artana/kernel/status.h"
#include "ledger/payload_codec.h"

namespace artana::kernel::ledger {

inline constexpr uint8_t kEventFormat = 1;
inline constexpr size_t kEventValueHeader = 1 + 32;

struct Envelope {
  std::string_view event_id;
  std::string_view run_id;
  std::string_view tenant_id;
  uint64_t seq = 0;
  std::string_view type;
  std::string_view timestamp;
  const Sha256* prev_hash = nullptr;
};

// Writes the stored value for an event whose payload's stored form is `payload_text`;
// returns the event hash.
Result<Sha256> encode_event_value(const Envelope& envelope, std::string_view payload_text,
                                  std::string& value);

// The canonical text and the hash kept beside it; kCorruption when the value is malformed.
struct StoredEvent {
  Sha256 hash;
  std::string_view canonical;
};
Result<StoredEvent> split_event_value(std::string_view value, std::string_view where);

// An event's canonical text split into its envelope's fields and its payload's text, in the
// layout encode_event_value writes (nullopt for any other: parse_event reads that as JSON).
// Views into the text; nothing is validated beyond the layout.
struct EventLayout {
  std::string_view event_id, prev_hash, run_id, tenant_id, timestamp, type, payload;
  uint64_t seq = 0;
};
std::optional<EventLayout> event_layout(std::string_view canonical);

// Parses canonical text into an Event (the payload as stored: references not expanded).
// With `envelope` false, event_id, tenant_id, timestamp and prev_hash are left empty (what a
// replay needs is the type, seq and payload; the run id is kept for the index check).
Result<Event> parse_event(std::string_view canonical, const Sha256& hash, std::string_view where,
                          bool envelope = true);

// The export line: the canonical text with `"hash":"<hex>"` spliced in its JCS place.
Result<std::string> export_line(std::string_view canonical, const Sha256& hash);

// 128 random bits as 26 lowercase base32 characters.
std::string new_event_id();
// RFC 3339 UTC with microseconds and 'Z'.
std::string format_timestamp(int64_t unix_us);

}  // namespace artana::kernel::ledger
