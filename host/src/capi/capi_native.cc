// Native tools, model ports and their completions (artana.h, "native tools and model ports").
#include <cstring>
#include <string>

#include "artana/kernel/json_parse.h"
#include "capi_internal.h"

using artana::Result;
using artana::Status;
using artana::host::NativeCall;
using artana::host::NativeFunction;
using artana::host::NativeReply;
using artana::kernel::Json;
using namespace artana::capi;

namespace {

// A tool's spec_json as the kernel's ToolSpec.
Result<artana::kernel::ToolSpec> tool_spec(const Json& spec) {
  if (!spec.is_object()) return Status::invalid_argument("spec_json must be an object");
  artana::kernel::ToolSpec tool;
  bool named = false;
  for (const auto& [key, value] : spec.as_object()) {
    auto text = [&](std::string& out) -> Status {
      if (!value.is_string()) return Status::invalid_argument("spec_json.{} must be a string", key);
      out = value.as_string();
      return Status();
    };
    if (key == "name") {
      ARTANA_RETURN_IF_ERROR(text(tool.name));
      named = true;
    } else if (key == "description") {
      ARTANA_RETURN_IF_ERROR(text(tool.description));
    } else if (key == "version") {
      ARTANA_RETURN_IF_ERROR(text(tool.version));
    } else if (key == "capability") {
      ARTANA_RETURN_IF_ERROR(text(tool.capability));
    } else if (key == "args") {
      if (!value.is_object())
        return Status::invalid_argument("spec_json.args must be a JSON Schema object");
      tool.arguments = value;
    } else if (key == "side_effect") {
      if (!value.is_bool())
        return Status::invalid_argument("spec_json.side_effect must be a boolean");
      tool.side_effect = value.as_bool();
    } else {
      return Status::invalid_argument(
          "spec_json: unknown key '{}' (name, description, args, version, capability, "
          "side_effect)",
          key);
    }
  }
  if (!named) return Status::invalid_argument("spec_json.name is missing");
  return tool;
}

// The application's function behind a NativeFunction: the call as artana_call, and the
// host marked as inside a callback (artana_host_tick and _destroy refuse then).
NativeFunction native_function(artana_host* host, artana_call_fn fn, void* user) {
  return [host, fn, user](const NativeCall& call, uint64_t token) {
    const artana_call c{call.json.c_str(),   call.json.size(),      call.run_id.c_str(),
                        call.tenant.c_str(), call.step_key.c_str(), call.idempotency_key.c_str()};
    ++host->callback_depth;
    fn(user, &c, token);
    --host->callback_depth;
  };
}

artana_status completed(const char* function, artana_completion done, NativeReply reply) {
  switch (artana::host::complete_native(done, std::move(reply))) {
    case artana::host::CompleteResult::kDone:
      return ok();
    case artana::host::CompleteResult::kUnknownToken:
      return fail(function, ARTANA_E_INVALID_ARGUMENT,
                  "completion " + std::to_string(done) + " was never issued");
    case artana::host::CompleteResult::kAlreadyDone:
      return fail(function, ARTANA_E_STATE,
                  "completion " + std::to_string(done) + " was completed already");
    case artana::host::CompleteResult::kCancelled:
      return fail(function, ARTANA_E_CANCELLED,
                  "completion " + std::to_string(done) +
                      ": its run was cancelled or stopped, or its host destroyed; nothing was "
                      "recorded");
  }
  return fail(function, ARTANA_E_INTERNAL, "unknown completion result");
}

}  // namespace

extern "C" {

artana_status artana_tool_register(artana_host* host, const char* spec_json, artana_call_fn fn,
                                   void* user) {
  constexpr const char* kFunction = "artana_tool_register";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    if (spec_json == nullptr) return null_argument(kFunction, "spec_json");
    if (fn == nullptr) return null_argument(kFunction, "fn");
    auto parsed = artana::kernel::parse_json(spec_json, "spec_json");
    if (!parsed.ok()) return fail(kFunction, parsed.status());
    auto spec = tool_spec(*parsed);
    if (!spec.ok()) return fail(kFunction, spec.status());
    artana::host::NativeTool tool{std::move(*spec), native_function(host, fn, user)};
    Status added = host->host->add_native_tool(std::move(tool));
    return added.ok() ? ok() : fail(kFunction, added);
  });
}

artana_status artana_model_port_register(artana_host* host, const char* name_or_prefix,
                                         artana_call_fn fn, void* user) {
  constexpr const char* kFunction = "artana_model_port_register";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    if (name_or_prefix == nullptr) return null_argument(kFunction, "name_or_prefix");
    if (fn == nullptr) return null_argument(kFunction, "fn");
    Status added = host->host->add_native_port(name_or_prefix, native_function(host, fn, user));
    return added.ok() ? ok() : fail(kFunction, added);
  });
}

artana_status artana_complete_ok(artana_completion done, const char* json, size_t len) {
  constexpr const char* kFunction = "artana_complete_ok";
  return guarded(kFunction, [&] {
    if (json == nullptr) return null_argument(kFunction, "json");
    auto parsed = artana::kernel::parse_json(std::string_view(json, len), "json");
    if (!parsed.ok()) return fail(kFunction, parsed.status());
    NativeReply reply;
    reply.value = std::move(*parsed);
    return completed(kFunction, done, std::move(reply));
  });
}

artana_status artana_complete_error(artana_completion done, artana_failure failure,
                                    const char* message) {
  constexpr const char* kFunction = "artana_complete_error";
  return guarded(kFunction, [&] {
    // Read as the int a C caller may have put there: in C++ a value outside the enum's
    // range must not be loaded as the enum.
    static_assert(sizeof(artana_failure) == sizeof(int));
    int value = 0;
    std::memcpy(&value, &failure, sizeof value);
    if (value != ARTANA_FAIL_TRANSIENT && value != ARTANA_FAIL_PERMANENT &&
        value != ARTANA_FAIL_TIMEOUT) {
      return fail(kFunction, ARTANA_E_INVALID_ARGUMENT,
                  "failure " + std::to_string(value) +
                      " is not ARTANA_FAIL_TRANSIENT, _PERMANENT or _TIMEOUT");
    }
    NativeReply reply;
    reply.ok = false;
    reply.failure = static_cast<artana::host::NativeFailure>(value);
    reply.message = message != nullptr ? message : "the application's function failed";
    return completed(kFunction, done, std::move(reply));
  });
}

}  // extern "C"
