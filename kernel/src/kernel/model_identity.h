// The identity of a model step's request: what replay compares to detect drift.
//
// The recorded request is {"model", "prompt" | "messages", "options", "output_schema"?,
// "tools": [{"name", "signature"}]} — the tools as their signature hashes, so a changed tool
// schema is drift too. Its hash is SHA-256 over the canonical JSON.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/sha256.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

// The same request as JSON: what model_request_identity hashes, canonically encoded.
Json model_request_json(const ModelRequest& request, const Json& text, Json offered);

struct RequestIdentity {
  bool present = false;  // false for kinds without an identity
  Sha256 digest;         // SHA-256 of the canonical request (what the step index keeps)

  std::string hex() const { return digest.hex(); }  // what events record
  bool same_as(const RequestIdentity& other) const {
    return present == other.present && digest == other.digest;
  }

  // The request itself: what a live step records and a drift compares. A model step's is
  // built only then (a replayed step needs only the hash) from the caller's request: call
  // this before the identity outlives the call that prepared it (model_request_identity).
  const Json& request() {
    if (model_request_ != nullptr) {
      request_ = model_request_from_parts();
      model_request_ = nullptr;
    }
    return request_;
  }
  Json take_request() {
    request();
    return std::move(request_);
  }
  void set_request(Json request) {
    request_ = std::move(request);
    model_request_ = nullptr;
  }

 private:
  friend Result<RequestIdentity> model_request_identity(const ModelRequest&, const Json*, Json);
  Json model_request_from_parts();
  Json request_;
  // A model step's parts, until request() builds it (a pointer and a move: no allocation on
  // a replayed step, which never asks). No text: the request's messages_source, built then.
  const ModelRequest* model_request_ = nullptr;
  const Json* model_text_ = nullptr;
  Json offered_;
};

// `text` is the request's prompt (a JSON string) or messages as recorded (rewritten), or
// null for the messages of request.messages_source as they are (no rewrite changes values):
// written canonically by the source, never built unless request() is asked for;
// `offered` = [{"name", "signature"}] of the tools offered, in the order given. The hash is
// written straight from the parts (a long history is encoded, not copied); `request` and
// `text` must outlive the identity's request() call (see RequestIdentity).
Result<RequestIdentity> model_request_identity(const ModelRequest& request, const Json* text,
                                               Json offered);

// Identity of any request JSON (tool calls use it with their own shape).
Result<RequestIdentity> request_identity(Json request, std::string_view what);

// The top-level fields that differ between two recorded requests, sorted.
std::vector<std::string> drift_fields(const Json& recorded, const Json& now);

}  // namespace artana::kernel
