// Errors and memory at the C boundary (artana.h, "Conventions").
#include <cstdlib>
#include <cstring>

#include "artana/kernel/canonical_json.h"
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

// The error-kind table's column is artana_status by another name: the same values.
#define ARTANA_SAME(embed, code) \
  static_assert(static_cast<int>(EmbedStatus::embed) == (code), #code " in the error-kind table")
ARTANA_SAME(kOk, ARTANA_OK);
ARTANA_SAME(kInvalidArgument, ARTANA_E_INVALID_ARGUMENT);
ARTANA_SAME(kNotFound, ARTANA_E_NOT_FOUND);
ARTANA_SAME(kState, ARTANA_E_STATE);
ARTANA_SAME(kScript, ARTANA_E_SCRIPT);
ARTANA_SAME(kDenied, ARTANA_E_DENIED);
ARTANA_SAME(kBudget, ARTANA_E_BUDGET);
ARTANA_SAME(kDrift, ARTANA_E_DRIFT);
ARTANA_SAME(kStorage, ARTANA_E_STORAGE);
ARTANA_SAME(kAbi, ARTANA_E_ABI);
ARTANA_SAME(kCancelled, ARTANA_E_CANCELLED);
ARTANA_SAME(kInternal, ARTANA_E_INTERNAL);
#undef ARTANA_SAME

artana_status code_for(const Status& status) {
  return static_cast<artana_status>(error_kind_row(visible_kind(status)).embed);
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

artana_status hand_out_json(const char* function, const kernel::Json& value, char** json,
                            size_t* len) {
  auto text = kernel::canonical_json(value);
  if (!text.ok()) return fail(function, text.status());
  auto* out = static_cast<char*>(std::malloc(text->size() + 1));
  if (out == nullptr) return fail(function, ARTANA_E_INTERNAL, "out of memory");
  std::memcpy(out, text->data(), text->size());
  out[text->size()] = '\0';
  *json = out;
  if (len != nullptr) *len = text->size();
  return ok();
}

}  // namespace artana::capi

extern "C" {

const char* artana_last_error(void) { return artana::capi::t_last_error.c_str(); }

void artana_free(void* p) { std::free(p); }

}  // extern "C"
