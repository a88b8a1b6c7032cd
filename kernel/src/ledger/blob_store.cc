#include "ledger/blob_store.h"

#include "artana/kernel/event_store.h"

namespace artana::kernel::ledger {

Result<PreparedBlob> prepare_blob(std::string_view bytes) {
  return prepare_blob(bytes, Sha256::of(bytes));
}

Result<PreparedBlob> prepare_blob(std::string_view bytes, const Sha256& key) {
  if (bytes.size() > EventStore::kMaxBlobBytes) {
    return Status::invalid_argument("a blob of {} bytes is over the cap of {} bytes (16 MiB)",
                                    bytes.size(), EventStore::kMaxBlobBytes);
  }
  PreparedBlob blob;
  blob.key = key;
  blob.value.reserve(bytes.size() + 1);
  blob.value.push_back('\0');  // format 0: the content as is
  blob.value.append(bytes);
  return blob;
}

Result<Sha256> parse_blob_hash(std::string_view hex) {
  auto key = Sha256::from_hex(hex);
  if (!key.ok()) {
    return Status::invalid_argument("blob hash '{}' is not a SHA-256 in hex: {}", hex,
                                    key.status().message());
  }
  return *key;
}

Result<bool> blob_intact(LedgerReader& reader, const PreparedBlob& blob) {
  auto stored = reader.find_blob(blob.key);
  // A malformed stored value is rewritten by the put, not an error for it.
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kCorruption) return false;
    return stored.status();
  }
  // Equal bytes, not just an equal key: a damaged copy must not stand in for the content.
  return stored->has_value() && **stored == blob.content();
}

Result<bool> check_put_blob(WriteContext& ctx, const PreparedBlob& blob) {
  LedgerReader reader(ctx.env(), ctx.txn());
  ARTANA_ASSIGN_OR_RETURN(bool intact, blob_intact(reader, blob));
  if (intact) return false;  // content-addressed: already there, nothing to rewrite
  // Up to 16 MiB in one value: on a full disk, refuse it here (kDiskFull, nothing written)
  // rather than have LMDB's page write fail halfway.
  ARTANA_RETURN_IF_ERROR(ctx.env().require_space(blob.value.size()));
  return true;
}

Status write_blob(WriteContext& ctx, const PreparedBlob& blob) {
  return ctx.put(ctx.env().dbi().blobs, blob.key.raw(), blob.value);
}

Status apply_put_blob(WriteContext& ctx, const PreparedBlob& blob) {
  ARTANA_ASSIGN_OR_RETURN(bool needed, check_put_blob(ctx, blob));
  return needed ? write_blob(ctx, blob) : Status();
}

Result<std::optional<std::string>> read_blob(LedgerReader& reader, const Sha256& key) {
  ARTANA_ASSIGN_OR_RETURN(std::optional<std::string_view> content, reader.find_blob(key));
  if (!content) return std::optional<std::string>();
  if (Sha256::of(*content) != key) {
    return Status::corruption(
        "blob {} in {} does not match its hash (its bytes were altered after writing); run "
        "`artana ledger verify`",
        key.hex(), reader.env().data_path());
  }
  return std::optional<std::string>(std::string(*content));
}

}  // namespace artana::kernel::ledger
