#include "model_answer.h"

#include "json_access.h"

namespace artana::io {

using kernel::Json;

Result<Json> parse_answer_object(std::string_view body) {
  Result<Json> parsed = kernel::parse_json(body, "the response");
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::invalid_argument("the response is not a JSON object: {}",
                                    parsed.ok() ? "another JSON value" : parsed.status().message());
  }
  return parsed;
}

Status add_tool_call(ModelAnswer& answer, const std::string* id, const std::string& name,
                     const std::string* arguments, size_t index) {
  ARTANA_ASSIGN_OR_RETURN(Json decoded, decode_arguments(name, arguments));
  answer.tool_calls.push_back(
      Json::object({{"id", id != nullptr ? *id : "call_" + std::to_string(index + 1)},
                    {"name", name},
                    {"arguments", std::move(decoded)}}));
  return Status();
}

Json usage_in_chat_names(const Json* usage, const UsageNames& names) {
  Json out = Json::object();
  if (usage == nullptr || !usage->is_object()) return out;
  const std::pair<std::string_view, const char*> counts[] = {
      {names.prompt, "prompt_tokens"},
      {names.completion, "completion_tokens"},
      {names.total, "total_tokens"}};
  for (const auto& [theirs, ours] : counts) {
    if (auto n = integer_member(usage, theirs)) out.set(ours, *n);
  }
  if (auto n = integer_member(member(*usage, names.prompt_details), "cached_tokens")) {
    out.set("cached_tokens", *n);
  }
  if (auto n = integer_member(member(*usage, names.completion_details), "reasoning_tokens")) {
    out.set("reasoning_tokens", *n);
  }
  return out;
}

namespace {

// The object holding message/type/code: `body.error`, else the body.
const Json& error_object(const Json& body) {
  const Json* inner = member(body, "error");
  return inner != nullptr && inner->is_object() ? *inner : body;
}

// A member that is a string, or a number spelled as one (some servers send numeric codes).
std::string text_member(const Json& object, std::string_view key) {
  const Json* found = member(object, key);
  if (found == nullptr) return {};
  if (found->is_string()) return found->as_string();
  if (found->is_integer()) return std::to_string(found->as_integer());
  return {};
}

}  // namespace

std::string provider_error_message(const Json& body) {
  if (body.is_string()) return body.as_string();
  if (const Json* inner = member(body, "error"); inner != nullptr && inner->is_string()) {
    return inner->as_string();
  }
  const Json& error = error_object(body);
  std::string message = text_member(error, "message");
  std::string detail;
  for (const char* key : {"type", "code"}) {
    std::string value = text_member(error, key);
    if (value.empty() || value == "error") continue;  // a stream event's own type
    detail += detail.empty() ? value : ", " + value;
  }
  if (!detail.empty()) message += message.empty() ? detail : " (" + detail + ")";
  return message;
}

bool provider_error_is_transient(const Json& body) {
  const Json& error = error_object(body);
  for (const char* key : {"type", "code"}) {
    const std::string value = text_member(error, key);
    for (const char* word : {"server_error", "rate_limit", "overloaded", "timeout", "unavailable",
                             "500", "502", "503", "504", "429"}) {
      if (value.find(word) != std::string::npos) return true;
    }
  }
  return false;
}

}  // namespace artana::io
