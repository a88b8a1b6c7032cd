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

}  // namespace artana::io
