// Content-addressed blobs (EventStore::put_blob / get_blob): script sources and anything else
// a caller wants kept once, by content, next to the events that name it.
//
// They share the `blobs` database with the payloads' large values (payload_codec.h): key =
// the 32 raw bytes of SHA-256(content), value = u8 format 0 | content. Same content, same
// entry, whoever wrote it first. Values up to EventStore::kMaxBlobBytes go to LMDB overflow
// pages (`blobs` is not DUPSORT, so a value may be any size). Functions, no state;
// thread-safe as the transactions they are given.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/sha256.h"
#include "artana/kernel/status.h"
#include "ledger/group_commit.h"
#include "ledger/ledger_reader.h"

namespace artana::kernel::ledger {

// A blob about to be written: hashed and laid out on the caller's thread, so the writer's
// critical section only copies it into pages.
struct PreparedBlob {
  Sha256 key;
  std::string value;  // u8 0 | content
  std::string_view content() const { return std::string_view(value).substr(1); }
};

// kInvalidArgument naming the size and the cap when `bytes` is too large.
Result<PreparedBlob> prepare_blob(std::string_view bytes);
// The same with its SHA-256 already computed by the caller (a large value's reference).
Result<PreparedBlob> prepare_blob(std::string_view bytes, const Sha256& key);

// kInvalidArgument naming `hex` unless it is 64 hex digits.
Result<Sha256> parse_blob_hash(std::string_view hex);

// Writes the blob unless the same content is already stored (then nothing is written). A
// stored value that differs (damaged) is overwritten with the right content. Repeatable, and
// checks before it writes (GroupCommit's rule).
Status apply_put_blob(WriteContext& ctx, const PreparedBlob& blob);
// Its two halves, for an op that checks all it writes before its first write (a new run's
// append): whether the blob must be written (kDiskFull when it would not fit), and the write.
Result<bool> check_put_blob(WriteContext& ctx, const PreparedBlob& blob);
Status write_blob(WriteContext& ctx, const PreparedBlob& blob);

// Whether the blob is stored intact (so put_blob need not write).
Result<bool> blob_intact(LedgerReader& reader, const PreparedBlob& blob);

// The content under `key`, checked against it: kCorruption naming the hash when it does not
// hash to its key.
Result<std::optional<std::string>> read_blob(LedgerReader& reader, const Sha256& key);

}  // namespace artana::kernel::ledger
