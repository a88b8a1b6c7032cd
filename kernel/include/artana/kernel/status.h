// Status and Result<T>: errors as values inside the kernel (STYLE.md §4).
//
// A Status is ok, or a code plus a message that names the thing (file, field, run, seq).
// Codes are few and each tells the caller what to do next. Both types are [[nodiscard]];
// nothing in the kernel throws. Value types, thread-compatible.
#pragma once

#include <fmt/format.h>

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "artana/kernel/error_kind.h"

namespace artana {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed: fix it, do not retry
  kNotFound,            // no such run / event / blob
  kAlreadyExists,       // a unique name or id is taken
  kFailedPrecondition,  // the state does not allow this now (run finished, store closed)
  kLeaseHeld,           // another live owner holds the run: wait, or ask it to stop
  kFenced,              // our lease epoch is stale: someone took the run over; stop writing
  kConflict,            // the run moved on since the caller read it: reload, decide again
  kCorruption,          // stored bytes do not verify: stop, run `artana ledger verify`
  kDiskFull,            // no space (or file size limit) at the named path: free space, retry
  kPermissionDenied,    // the named path is not readable/writable by this process
  kUnavailable,         // transient: retry later
  kIoError,             // any other system error, with errno text
  kInternal,            // a bug: please report
};

std::string_view status_code_name(StatusCode code);

class Status;
// The kind a script and the CLI see for `status`: its own, else one derived from its code
// (disk full, corruption and I/O errors are storage_error; a stale or held lease is
// lease_held; a state that forbids the call is invalid_state). kNone only for ok.
ErrorKind visible_kind(const Status& status);
// The message shown with visible_kind(status): a storage error's leads with what failed
// ("disk_full: …", "corruption: …", "permission_denied: …"), the same in every durability
// mode, for the operator who must free space, restore a backup or fix permissions.
std::string visible_message(const Status& status);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }
  template <typename... Args>
  static Status make(StatusCode code, fmt::format_string<Args...> format, Args&&... args) {
    return Status(code, fmt::format(format, std::forward<Args>(args)...));
  }
#define ARTANA_STATUS_FACTORY(name, code)                                              \
  template <typename... Args>                                                          \
  static Status name(fmt::format_string<Args...> format, Args&&... args) {             \
    return Status(StatusCode::code, fmt::format(format, std::forward<Args>(args)...)); \
  }
  ARTANA_STATUS_FACTORY(invalid_argument, kInvalidArgument)
  ARTANA_STATUS_FACTORY(not_found, kNotFound)
  ARTANA_STATUS_FACTORY(already_exists, kAlreadyExists)
  ARTANA_STATUS_FACTORY(failed_precondition, kFailedPrecondition)
  ARTANA_STATUS_FACTORY(lease_held, kLeaseHeld)
  ARTANA_STATUS_FACTORY(fenced, kFenced)
  ARTANA_STATUS_FACTORY(conflict, kConflict)
  ARTANA_STATUS_FACTORY(corruption, kCorruption)
  ARTANA_STATUS_FACTORY(disk_full, kDiskFull)
  ARTANA_STATUS_FACTORY(permission_denied, kPermissionDenied)
  ARTANA_STATUS_FACTORY(unavailable, kUnavailable)
  ARTANA_STATUS_FACTORY(io_error, kIoError)
  ARTANA_STATUS_FACTORY(internal, kInternal)
#undef ARTANA_STATUS_FACTORY

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "disk_full: no space left writing /x/.artana/data.mdb"
  std::string to_string() const;

  // Prefixes the message with context, keeping the code: "opening ledger: <message>".
  Status with_context(std::string_view context) const;

  // A kernel decision a script can act on carries a kind (error_kind.h: the Lua error's
  // `kind`, "replay_drift", "budget_exceeded", …) and the step it concerns. Plain errors
  // have none (visible_kind() derives one from the code).
  Status with_kind(ErrorKind kind, std::string_view step_key = {}) const;
  ErrorKind error_kind() const { return kind_; }
  std::string_view kind() const { return error_kind_name(kind_); }  // "" when none
  const std::string& step_key() const { return step_key_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  ErrorKind kind_ = ErrorKind::kNone;
  std::string step_key_;
};

// Result<T>: a T, or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace artana

#define ARTANA_CONCAT_INNER(a, b) a##b
#define ARTANA_CONCAT(a, b) ARTANA_CONCAT_INNER(a, b)

#define ARTANA_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::artana::Status artana_status_ = (expr);        \
    if (!artana_status_.ok()) return artana_status_; \
  } while (0)

#define ARTANA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

// ARTANA_ASSIGN_OR_RETURN(auto head, read_head(run));
#define ARTANA_ASSIGN_OR_RETURN(lhs, expr) \
  ARTANA_ASSIGN_OR_RETURN_IMPL(ARTANA_CONCAT(artana_result_, __LINE__), lhs, expr)
