#include "kernel/model_identity.h"

#include <algorithm>
#include <set>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"

namespace artana::kernel {

Result<RequestIdentity> request_identity(Json request, std::string_view what) {
  ARTANA_ASSIGN_OR_RETURN(std::string canonical, canonical_json(request, what));
  RequestIdentity identity;
  identity.present = true;
  identity.digest = Sha256::of(canonical);
  identity.set_request(std::move(request));
  return identity;
}

Json model_request_json(const ModelRequest& request, const Json& text, Json offered) {
  Json json = Json::object({{"model", request.model}, {"options", request.options}});
  json.set(request.prompt ? "prompt" : "messages", text);
  if (request.output_schema) json.set("output_schema", *request.output_schema);
  json.set("tools", std::move(offered));
  return json;
}

Result<RequestIdentity> model_request_identity(const ModelRequest& request, const Json* text,
                                               Json offered) {
  const bool messages = request.messages.has_value() || request.messages_source != nullptr;
  if (request.prompt && (text == nullptr || !text->is_string())) {
    return Status::invalid_argument("step '{}': the prompt must be a string", request.step_key);
  }
  if (messages && text != nullptr && !text->is_array()) {
    return Status::invalid_argument("step '{}': messages must be an array", request.step_key);
  }
  if (!request.options.is_object()) {
    return Status::invalid_argument("step '{}': options must be an object", request.step_key);
  }
  if (request.model.empty()) {
    return Status::invalid_argument("step '{}': model must not be empty", request.step_key);
  }
  // model_request_json's canonical text, member by member in JCS order (messages, model,
  // options, output_schema, prompt, tools: every key ASCII, so byte order).
  // One buffer a thread, reused: hashed and dropped at once, once a step.
  thread_local std::string canonical;
  canonical.clear();
  canonical += '{';
  if (messages) {
    canonical += "\"messages\":";
    if (text != nullptr) {
      ARTANA_RETURN_IF_ERROR(append_canonical_json(canonical, *text, "request.messages"));
    } else {
      const size_t at = canonical.size();
      ARTANA_RETURN_IF_ERROR(request.messages_source->append_canonical(canonical));
      if (canonical.size() == at || canonical[at] != '[') {
        return Status::invalid_argument("step '{}': messages must be an array", request.step_key);
      }
    }
    canonical += ',';
  }
  canonical += "\"model\":";
  ARTANA_RETURN_IF_ERROR(append_canonical_string(canonical, request.model, "request.model"));
  canonical += ",\"options\":";
  ARTANA_RETURN_IF_ERROR(append_canonical_json(canonical, request.options, "request.options"));
  if (request.output_schema) {
    canonical += ",\"output_schema\":";
    ARTANA_RETURN_IF_ERROR(
        append_canonical_json(canonical, *request.output_schema, "request.output_schema"));
  }
  if (request.prompt) {
    canonical += ",\"prompt\":";
    ARTANA_RETURN_IF_ERROR(append_canonical_json(canonical, *text, "request.prompt"));
  }
  canonical += ",\"tools\":";
  ARTANA_RETURN_IF_ERROR(append_canonical_json(canonical, offered, "request.tools"));
  canonical += '}';
  RequestIdentity identity;
  identity.present = true;
  identity.digest = Sha256::of(canonical);
  if (canonical.capacity() > (size_t{1} << 20)) std::string().swap(canonical);  // a long history
  identity.model_request_ = &request;
  identity.model_text_ = text;
  identity.offered_ = std::move(offered);
  return identity;
}

Json RequestIdentity::model_request_from_parts() {
  if (model_text_ != nullptr) {
    return model_request_json(*model_request_, *model_text_, std::move(offered_));
  }
  // Built from the source only now (a drift to report): it wrote the same value for the
  // hash, so building it fails only when the run is out of memory, and is being ended.
  Result<Json> built = model_request_->messages_source->build();
  return model_request_json(*model_request_, built.ok() ? *built : Json(), std::move(offered_));
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
