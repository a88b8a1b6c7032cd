#include "responses_api.h"

#include "artana/kernel/canonical_json.h"
#include "json_access.h"
#include "model_request_parts.h"
#include "strict_schema.h"

namespace artana::io {
namespace {

using kernel::Json;

// The items of one message of the call's shape.
Status append_items(const Json& message, size_t index, Json& input) {
  const std::string* role = string_member(message, "role");
  if (role == nullptr) {
    return Status::invalid_argument("messages[{}] must be an object with a string `role`",
                                    index + 1);
  }
  if (*role == "tool") {
    const std::string* call_id = string_member(message, "tool_call_id");
    if (call_id == nullptr) {
      return Status::invalid_argument("messages[{}] (role tool) needs a string `tool_call_id`",
                                      index + 1);
    }
    const Json* content = member(message, "content");
    std::string output;
    if (content != nullptr && content->is_string()) {
      output = content->as_string();
    } else if (content != nullptr) {
      ARTANA_ASSIGN_OR_RETURN(output, kernel::canonical_json(*content));
    }
    input.push_back(Json::object(
        {{"type", "function_call_output"}, {"call_id", *call_id}, {"output", std::move(output)}}));
    return Status();
  }
  const Json* content = member(message, "content");
  const bool has_text = content != nullptr &&
                        !(content->is_string() && content->as_string().empty()) &&
                        !content->is_null();
  if (has_text || member(message, "tool_calls") == nullptr) {
    input.push_back(
        Json::object({{"role", *role}, {"content", content != nullptr ? *content : Json("")}}));
  }
  if (const Json* calls = member(message, "tool_calls")) {
    if (!calls->is_array()) {
      return Status::invalid_argument("messages[{}].tool_calls must be an array", index + 1);
    }
    for (size_t i = 0; i < calls->size(); ++i) {
      ARTANA_ASSIGN_OR_RETURN(ToolCallParts parts, tool_call_parts(calls->as_array()[i], index, i));
      input.push_back(Json::object({{"type", "function_call"},
                                    {"call_id", std::move(parts.id)},
                                    {"name", std::move(parts.name)},
                                    {"arguments", std::move(parts.arguments)}}));
    }
  }
  return Status();
}

}  // namespace

Result<std::string> responses_request_body(const kernel::ModelCall& call, bool stream) {
  Json body = Json::object();
  ARTANA_RETURN_IF_ERROR(
      copy_options(call.options, {"model", "input", "tools", "stream", "store", "text"}, body,
                   [](std::string_view name) {
                     return name == "max_tokens" ? std::string_view("max_output_tokens") : name;
                   }));
  body.set("model", call.model);
  body.set("store", false);
  Json input = Json::array();
  if (call.messages) {
    if (!call.messages->is_array()) return Status::invalid_argument("messages must be an array");
    for (size_t i = 0; i < call.messages->size(); ++i) {
      ARTANA_RETURN_IF_ERROR(append_items(call.messages->as_array()[i], i, input));
    }
  }
  if (call.prompt) input.push_back(Json::object({{"role", "user"}, {"content", *call.prompt}}));
  body.set("input", std::move(input));
  if (call.tools.is_array() && call.tools.size() > 0) {
    Json tools = Json::array();
    for (const Json& tool : call.tools.as_array()) {
      Json function = Json::object({{"type", "function"}});
      put_function_fields(tool, function);
      tools.push_back(std::move(function));
    }
    body.set("tools", std::move(tools));
  }
  if (call.output_schema) {
    StrictSchema sent = strict_schema(*call.output_schema);  // as in chat_completions.cc
    body.set("text", Json::object({{"format", Json::object({{"type", "json_schema"},
                                                            {"name", "output"},
                                                            {"schema", std::move(sent.schema)},
                                                            {"strict", sent.strict}})}}));
  }
  if (stream) body.set("stream", true);
  return kernel::canonical_json(body, "request");
}

Result<ModelAnswer> parse_responses_response(std::string_view text) {
  ARTANA_ASSIGN_OR_RETURN(const Json body, parse_answer_object(text));
  return responses_answer(body);
}

Result<ModelAnswer> responses_answer(const Json& body) {
  ModelAnswer answer;
  if (const std::string* id = string_member(body, "id")) answer.response_id = *id;
  if (const std::string* status = string_member(body, "status")) answer.finish_reason = *status;
  const Json* output = member(body, "output");
  if (output == nullptr || !output->is_array()) {
    return Status::invalid_argument("the response has no `output` array");
  }
  for (size_t i = 0; i < output->size(); ++i) {
    const Json& item = output->as_array()[i];
    const std::string* type = string_member(item, "type");
    if (type == nullptr) continue;
    if (*type == "message") {
      const Json* parts = member(item, "content");
      if (parts == nullptr || !parts->is_array()) continue;
      for (const Json& part : parts->as_array()) {
        const std::string* kind = string_member(part, "type");
        if (kind == nullptr) continue;
        if (*kind == "output_text") {
          if (const std::string* piece = string_member(part, "text")) answer.text += *piece;
        } else if (*kind == "refusal") {
          if (const std::string* said = string_member(part, "refusal")) answer.refusal = *said;
        }
      }
    } else if (*type == "function_call") {
      const std::string* name = string_member(item, "name");
      if (name == nullptr) {
        return Status::invalid_argument("output[{}] (function_call) has no `name`", i + 1);
      }
      ARTANA_RETURN_IF_ERROR(add_tool_call(answer, string_member(item, "call_id"), *name,
                                           string_member(item, "arguments"), i));
    }
    // Other items (reasoning summaries, web searches) are not part of the answer.
  }
  answer.usage =
      usage_in_chat_names(member(body, "usage"), {"input_tokens", "output_tokens", "total_tokens",
                                                  "input_tokens_details", "output_tokens_details"});
  return answer;
}

}  // namespace artana::io
