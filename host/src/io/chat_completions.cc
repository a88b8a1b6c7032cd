#include "chat_completions.h"

#include "artana/kernel/canonical_json.h"
#include "json_access.h"
#include "model_request_parts.h"
#include "strict_schema.h"

namespace artana::io {
namespace {

using kernel::Json;

// One message of the call's shape, in Chat's.
Result<Json> chat_message(const Json& message, size_t index) {
  if (!message.is_object() || string_member(message, "role") == nullptr) {
    return Status::invalid_argument("messages[{}] must be an object with a string `role`",
                                    index + 1);
  }
  Json out = Json::object();
  for (const auto& [key, value] : message.as_object()) {
    if (key != "tool_calls") {
      out.set(key, value);
      continue;
    }
    if (!value.is_array()) {
      return Status::invalid_argument("messages[{}].tool_calls must be an array", index + 1);
    }
    Json calls = Json::array();
    for (size_t i = 0; i < value.size(); ++i) {
      ARTANA_ASSIGN_OR_RETURN(ToolCallParts parts, tool_call_parts(value.as_array()[i], index, i));
      calls.push_back(
          Json::object({{"id", std::move(parts.id)},
                        {"type", "function"},
                        {"function", Json::object({{"name", std::move(parts.name)},
                                                   {"arguments", std::move(parts.arguments)}})}}));
    }
    out.set("tool_calls", std::move(calls));
  }
  return out;
}

}  // namespace

Result<std::string> chat_request_body(const kernel::ModelCall& call, bool stream) {
  Json body = Json::object();
  ARTANA_RETURN_IF_ERROR(copy_options(
      call.options, {"model", "messages", "tools", "stream", "stream_options", "response_format"},
      body));
  body.set("model", call.model);
  Json messages = Json::array();
  if (call.messages) {
    if (!call.messages->is_array()) return Status::invalid_argument("messages must be an array");
    for (size_t i = 0; i < call.messages->size(); ++i) {
      ARTANA_ASSIGN_OR_RETURN(Json message, chat_message(call.messages->as_array()[i], i));
      messages.push_back(std::move(message));
    }
  }
  if (call.prompt) messages.push_back(Json::object({{"role", "user"}, {"content", *call.prompt}}));
  body.set("messages", std::move(messages));
  if (call.tools.is_array() && call.tools.size() > 0) {
    Json tools = Json::array();
    for (const Json& tool : call.tools.as_array()) {
      Json function = Json::object();
      put_function_fields(tool, function);
      tools.push_back(Json::object({{"type", "function"}, {"function", std::move(function)}}));
    }
    body.set("tools", std::move(tools));
  }
  if (call.output_schema) {
    // The port unwraps the answer and drops the nulls strict mode added (strict_schema.h).
    StrictSchema sent = strict_schema(*call.output_schema);
    body.set("response_format",
             Json::object({{"type", "json_schema"},
                           {"json_schema", Json::object({{"name", "output"},
                                                         {"schema", std::move(sent.schema)},
                                                         {"strict", sent.strict}})}}));
  }
  if (stream) {
    body.set("stream", true);
    // Usage comes in a last chunk only when asked for.
    body.set("stream_options", Json::object({{"include_usage", true}}));
  }
  return kernel::canonical_json(body, "request");
}

Result<ModelAnswer> parse_chat_response(std::string_view text) {
  ARTANA_ASSIGN_OR_RETURN(const Json body, parse_answer_object(text));
  ModelAnswer answer;
  if (const std::string* id = string_member(body, "id")) answer.response_id = *id;
  const Json* choices = member(body, "choices");
  if (choices == nullptr || !choices->is_array() || choices->size() == 0 ||
      !choices->as_array()[0].is_object()) {
    return Status::invalid_argument("the response has no `choices[1]` object");
  }
  const Json& choice = choices->as_array()[0];
  if (const std::string* reason = string_member(choice, "finish_reason")) {
    answer.finish_reason = *reason;
  }
  const Json* message = member(choice, "message");
  if (message == nullptr || !message->is_object()) {
    return Status::invalid_argument("the response's `choices[1]` has no `message` object");
  }
  if (const std::string* content = string_member(*message, "content")) answer.text = *content;
  if (const std::string* refusal = string_member(*message, "refusal")) answer.refusal = *refusal;
  if (const Json* calls = member(*message, "tool_calls"); calls != nullptr && calls->is_array()) {
    for (size_t i = 0; i < calls->size(); ++i) {
      const Json& call = calls->as_array()[i];
      const Json* function = member(call, "function");
      const std::string* name = function ? string_member(*function, "name") : nullptr;
      if (name == nullptr) {
        return Status::invalid_argument("tool_calls[{}] has no `function.name`", i + 1);
      }
      ARTANA_RETURN_IF_ERROR(add_tool_call(answer, string_member(call, "id"), *name,
                                           string_member(*function, "arguments"), i));
    }
  }
  answer.usage = usage_in_chat_names(member(body, "usage"),
                                     {"prompt_tokens", "completion_tokens", "total_tokens",
                                      "prompt_tokens_details", "completion_tokens_details"});
  return answer;
}

}  // namespace artana::io
