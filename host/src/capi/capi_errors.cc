// Errors and memory at the C boundary (artana.h, "Conventions").
#include <cstdlib>
#include <cstring>

#include "capi_internal.h"

namespace artana::capi {
namespace {

thread_local std::string t_last_error;

}  // namespace

artana_status fail(const char* function, artana_status code, std::string_view message) {
  try {
    t_last_error.assign(function);
    t_last_error.append(": ");
    t_last_error.append(message);
  } catch (...) {
    t_last_error.clear();  // out of memory: the code still says what went wrong
  }
  return code;
}

artana_status code_for(const Status& status) {
  switch (visible_kind(status)) {
    case ErrorKind::kScriptError:
    case ErrorKind::kSandboxViolation:
      return ARTANA_E_SCRIPT;
    case ErrorKind::kCapabilityDenied:
    case ErrorKind::kPolicyViolation:
      return ARTANA_E_DENIED;
    case ErrorKind::kBudgetExceeded:
      return ARTANA_E_BUDGET;
    case ErrorKind::kReplayDrift:
      return ARTANA_E_DRIFT;
    case ErrorKind::kCancelled:
      return ARTANA_E_CANCELLED;
    case ErrorKind::kStorageError:
    case ErrorKind::kLeaseHeld:
      return ARTANA_E_STORAGE;
    default:
      break;
  }
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ARTANA_E_INVALID_ARGUMENT;
    case StatusCode::kNotFound:
      return ARTANA_E_NOT_FOUND;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kConflict:
      return ARTANA_E_STATE;
    case StatusCode::kLeaseHeld:
    case StatusCode::kFenced:
    case StatusCode::kCorruption:
    case StatusCode::kDiskFull:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnavailable:
    case StatusCode::kIoError:
      return ARTANA_E_STORAGE;
    default:
      return ARTANA_E_INTERNAL;
  }
}

artana_status fail(const char* function, const Status& status) {
  return fail(function, code_for(status), status.message());
}

artana_status null_argument(const char* function, const char* argument) {
  std::string message(argument);
  message.append(" is NULL");
  return fail(function, ARTANA_E_INVALID_ARGUMENT, message);
}

artana_status ok() {
  t_last_error.clear();
  return ARTANA_OK;
}

char* copy_out(std::string_view text) {
  auto* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return out;
}

}  // namespace artana::capi

extern "C" {

const char* artana_last_error(void) { return artana::capi::t_last_error.c_str(); }

void artana_free(void* p) { std::free(p); }

}  // extern "C"
