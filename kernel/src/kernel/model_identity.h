// The identity of a model step's request: what replay compares to detect drift.
//
// The recorded request is {"model", "prompt" | "messages", "options", "output_schema"?,
// "tools": [{"name", "signature"}]} — the tools as their signature hashes, so a changed tool
// schema is drift too. Its hash is SHA-256 over the canonical JSON.
#pragma once

#include <string>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/sha256.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

struct RequestIdentity {
  Json request;
  std::string hash;  // 64 hex digits; empty for kinds without an identity
  Sha256 digest;     // the same hash, as bytes (what the step index keeps)
};

// `text` is the request's prompt (a JSON string) or messages as recorded (rewritten);
// `offered` = [{"name", "signature"}] of the tools offered, in the order given.
Result<RequestIdentity> model_request_identity(const ModelRequest& request, const Json& text,
                                               Json offered);

// Identity of any request JSON (tool calls use it with their own shape).
Result<RequestIdentity> request_identity(Json request, std::string_view what);

// The top-level fields that differ between two recorded requests, sorted.
std::vector<std::string> drift_fields(const Json& recorded, const Json& now);

}  // namespace artana::kernel
