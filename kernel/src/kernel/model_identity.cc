#include "kernel/model_identity.h"

#include <algorithm>
#include <set>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"

namespace artana::kernel {

Result<RequestIdentity> request_identity(Json request, std::string_view what) {
  ARTANA_ASSIGN_OR_RETURN(std::string canonical, canonical_json(request, what));
  const Sha256 digest = Sha256::of(canonical);
  return RequestIdentity{std::move(request), digest.hex(), digest};
}

Result<RequestIdentity> model_request_identity(const ModelRequest& request, const Json& text,
                                               Json offered) {
  if (request.prompt && !text.is_string()) {
    return Status::invalid_argument("step '{}': the prompt must be a string", request.step_key);
  }
  if (request.messages && !text.is_array()) {
    return Status::invalid_argument("step '{}': messages must be an array", request.step_key);
  }
  if (!request.options.is_object()) {
    return Status::invalid_argument("step '{}': options must be an object", request.step_key);
  }
  if (request.model.empty()) {
    return Status::invalid_argument("step '{}': model must not be empty", request.step_key);
  }
  Json json = Json::object({{"model", request.model}, {"options", request.options}});
  json.set(request.prompt ? "prompt" : "messages", text);
  if (request.output_schema) json.set("output_schema", *request.output_schema);
  json.set("tools", std::move(offered));
  return request_identity(std::move(json), "request");
}

std::vector<std::string> drift_fields(const Json& recorded, const Json& now) {
  std::set<std::string> names;
  for (const Json* side : {&recorded, &now}) {
    if (!side->is_object()) continue;
    for (const auto& [key, value] : side->as_object()) names.insert(key);
  }
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const Json* a = recorded.find(name);
    const Json* b = now.find(name);
    if (a == nullptr || b == nullptr || !(*a == *b)) out.push_back(name);
  }
  return out;
}

}  // namespace artana::kernel
