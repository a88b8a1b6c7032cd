#include "artana/kernel/status.h"

namespace artana {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kLeaseHeld:
      return "lease_held";
    case StatusCode::kFenced:
      return "fenced";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kDiskFull:
      return "disk_full";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kIoError:
      return "io_error";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  if (kind_ != ErrorKind::kNone) return fmt::format("{}: {}", kind(), message_);
  return fmt::format("{}: {}", status_code_name(code_), message_);
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  Status out(code_, fmt::format("{}: {}", context, message_));
  out.kind_ = kind_;
  out.step_key_ = step_key_;
  return out;
}

Status Status::with_kind(ErrorKind kind, std::string_view step_key) const {
  Status out = *this;
  out.kind_ = kind;
  out.step_key_ = step_key;
  return out;
}

std::string visible_message(const Status& status) {
  if (status.error_kind() != ErrorKind::kNone || visible_kind(status) != ErrorKind::kStorageError)
    return status.message();
  return std::string(status_code_name(status.code())) + ": " + status.message();
}

ErrorKind visible_kind(const Status& status) {
  if (status.error_kind() != ErrorKind::kNone) return status.error_kind();
  switch (status.code()) {
    case StatusCode::kOk:
      return ErrorKind::kNone;
    case StatusCode::kInvalidArgument:
    case StatusCode::kAlreadyExists:
      return ErrorKind::kInvalidArgument;
    case StatusCode::kNotFound:
      return ErrorKind::kNotFound;
    case StatusCode::kFailedPrecondition:
      return ErrorKind::kInvalidState;
    case StatusCode::kLeaseHeld:
    case StatusCode::kFenced:
    case StatusCode::kConflict:
      return ErrorKind::kLeaseHeld;
    case StatusCode::kUnavailable:
      return ErrorKind::kTransientError;
    case StatusCode::kCorruption:
    case StatusCode::kDiskFull:
    case StatusCode::kPermissionDenied:
    case StatusCode::kIoError:
      return ErrorKind::kStorageError;
    case StatusCode::kInternal:
      return ErrorKind::kInternal;
  }
  return ErrorKind::kInternal;
}

}  // namespace artana
