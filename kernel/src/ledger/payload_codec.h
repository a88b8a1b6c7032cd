// Payload codec: canonical JSON with large values stored once, by content.
//
// Encoding writes the payload's RFC 8785 form, except that any string, array or object
// (below the payload itself) whose canonical text is longer than the threshold is stored as
// a blob keyed by the SHA-256 of that text and replaced by {"$artana.blob":"<hex>"}. Arrays
// longer than kChunkItems are first cut into index-aligned chunks of kChunkItems elements
// (and groups of kChunkItems chunks, recursively), written {"$artana.concat":[part, …]}:
// a history that grows by appending shares every full chunk with the previous step, so a run
// whose message list grows every step stores O(new messages) bytes per step, not O(history).
// The result is still canonical JSON, so the event hash (which covers the references) can be
// checked with any JCS library. Keys beginning "$artana." are reserved in payloads.
// Decoding replaces references with their values again.
#pragma once

#include <string.h>

#include <functional>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/sha256.h"
#include "artana/kernel/status.h"

namespace artana::kernel::ledger {

inline constexpr size_t kChunkItems = 16;
inline constexpr std::string_view kBlobKey = "$artana.blob";
inline constexpr std::string_view kConcatKey = "$artana.concat";
// How every reference key begins in canonical text (quote included).
inline constexpr std::string_view kReservedKeyQuoted = "\"$artana.";

// Whether canonical text may hold a reference to expand. Searched by its rare '$' (memchr,
// vectorised) rather than its leading '"': JSON is full of quotes, and memmem or find would
// stop at every one of them (every replayed result is checked here).
inline bool has_reserved_key(std::string_view canonical) {
  const char* at = canonical.data();
  const char* const end = at + canonical.size();
  while (at < end) {
    const void* dollar = memchr(at, '$', static_cast<size_t>(end - at));
    if (dollar == nullptr) return false;
    const char* hit = static_cast<const char*>(dollar) - 1;  // where the quote must be
    if (hit >= canonical.data() && static_cast<size_t>(end - hit) >= kReservedKeyQuoted.size() &&
        memcmp(hit, kReservedKeyQuoted.data(), kReservedKeyQuoted.size()) == 0) {
      return true;
    }
    at = static_cast<const char*>(dollar) + 1;
  }
  return false;
}

class BlobSink {
 public:
  virtual ~BlobSink() = default;
  // Stores `content` under `key` = SHA-256(content) unless it is already there.
  virtual Status put_blob(const Sha256& key, std::string_view content) = 0;
};

class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // The content stored under `key`; the view is valid until the next call.
  virtual Result<std::string_view> get_blob(const Sha256& key) = 0;
};

// Appends the stored form of `payload` (a JSON object) to `out`. Errors name the path from
// `root` ("payload.messages[3].content").
Status encode_payload(const Json& payload, size_t threshold, BlobSink& sink, std::string& out,
                      std::string_view root = "payload");

// Replaces every reference inside `value` by what it stands for. `where` names the event in
// errors. Fails with kCorruption when a blob is missing, damaged or of the wrong shape.
Status expand_payload(Json& value, BlobSource& source, std::string_view where);

// Calls `visit` with each blob key referenced directly by `value` (not inside blobs).
void for_each_blob_ref(const Json& value, const std::function<void(const Sha256&)>& visit);

}  // namespace artana::kernel::ledger
