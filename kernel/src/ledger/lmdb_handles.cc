#include "ledger/lmdb_handles.h"

#include <cerrno>

namespace artana::kernel::ledger {

Status lmdb_status(int rc, std::string_view what, std::string_view path) {
  if (rc == MDB_SUCCESS) return Status();
  const char* text = mdb_strerror(rc);
  switch (rc) {
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
      return Status::disk_full("{} in {}: no space left on the device or file size limit hit ({})",
                               what, path, text);
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::permission_denied(
          "{} in {}: {} (check the directory's owner, mode and "
          "whether the filesystem is mounted read-only)",
          what, path, text);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status::corruption("{} in {}: {}", what, path, text);
    case MDB_READERS_FULL:
    case EAGAIN:
    case EBUSY:
      return Status::unavailable("{} in {}: {}", what, path, text);
    case ENOENT:
    case ENOTDIR:
    case MDB_NOTFOUND:
      return Status::not_found("{} in {}: {}", what, path, text);
    default:
      return Status::io_error("{} in {}: {}", what, path, text);
  }
}

}  // namespace artana::kernel::ledger
