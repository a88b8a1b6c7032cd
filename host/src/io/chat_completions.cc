#include "chat_completions.h"

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"

namespace artana::io {
namespace {

using kernel::Json;

// The request members this form sets; an option may not replace them.
constexpr std::string_view kSetHere[] = {"model",  "messages",       "tools",
                                         "stream", "stream_options", "response_format"};

const Json* member(const Json& object, std::string_view key) {
  return object.is_object() ? object.find(key) : nullptr;
}

const std::string* string_member(const Json& object, std::string_view key) {
  const Json* found = member(object, key);
  return found != nullptr && found->is_string() ? &found->as_string() : nullptr;
}

// An integer member, or nullopt (absent or not an integer).
std::optional<int64_t> integer_member(const Json* object, std::string_view key) {
  const Json* found = object == nullptr ? nullptr : member(*object, key);
  if (found == nullptr || !found->is_integer()) return std::nullopt;
  return found->as_integer();
}

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
      const Json& call = value.as_array()[i];
      const std::string* id = string_member(call, "id");
      const std::string* name = string_member(call, "name");
      if (id == nullptr || name == nullptr) {
        return Status::invalid_argument(
            "messages[{}].tool_calls[{}] needs a string `id` and `name`", index + 1, i + 1);
      }
      const Json* arguments = member(call, "arguments");
      ARTANA_ASSIGN_OR_RETURN(std::string text,
                              kernel::canonical_json(arguments ? *arguments : Json::object()));
      calls.push_back(Json::object(
          {{"id", *id},
           {"type", "function"},
           {"function", Json::object({{"name", *name}, {"arguments", std::move(text)}})}}));
    }
    out.set("tool_calls", std::move(calls));
  }
  return out;
}

}  // namespace

Result<std::string> chat_request_body(const kernel::ModelCall& call, bool stream) {
  Json body = Json::object();
  if (call.options.is_object()) {
    for (const auto& [key, value] : call.options.as_object()) {
      for (std::string_view reserved : kSetHere) {
        if (key == reserved) {
          return Status::invalid_argument(
              "options.{} cannot be set: the request's `{}` comes from the call itself", key, key);
        }
      }
      body.set(key, value);
    }
  }
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
      if (const std::string* name = string_member(tool, "name")) function.set("name", *name);
      if (const std::string* what = string_member(tool, "description")) {
        function.set("description", *what);
      }
      const Json* schema = member(tool, "arguments");
      function.set("parameters",
                   schema != nullptr
                       ? *schema
                       : Json::object({{"type", "object"}, {"properties", Json::object()}}));
      tools.push_back(Json::object({{"type", "function"}, {"function", std::move(function)}}));
    }
    body.set("tools", std::move(tools));
  }
  if (call.output_schema) {
    body.set("response_format",
             Json::object({{"type", "json_schema"},
                           {"json_schema",
                            Json::object({{"name", "output"}, {"schema", *call.output_schema}})}}));
  }
  if (stream) {
    body.set("stream", true);
    // Usage comes in a last chunk only when asked for.
    body.set("stream_options", Json::object({{"include_usage", true}}));
  }
  return kernel::canonical_json(body, "request");
}

Result<ModelAnswer> parse_chat_response(std::string_view text) {
  Result<Json> parsed = kernel::parse_json(text, "the response");
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::invalid_argument("the response is not a JSON object: {}",
                                    parsed.ok() ? "another JSON value" : parsed.status().message());
  }
  const Json& body = *parsed;
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
      const std::string* arguments = string_member(*function, "arguments");
      Json decoded = Json::object();
      if (arguments != nullptr && !arguments->empty()) {
        Result<Json> args = kernel::parse_json(*arguments, "arguments");
        if (!args.ok()) {
          return Status::invalid_argument("tool call '{}' has arguments that are not JSON: {}",
                                          *name, args.status().message());
        }
        decoded = std::move(*args);
      }
      const std::string* id = string_member(call, "id");
      answer.tool_calls.push_back(Json::object({{"id", id ? *id : "call_" + std::to_string(i + 1)},
                                                {"name", *name},
                                                {"arguments", std::move(decoded)}}));
    }
  }
  if (const Json* usage = member(body, "usage"); usage != nullptr && usage->is_object()) {
    for (std::string_view key : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
      if (auto n = integer_member(usage, key)) answer.usage.set(std::string(key), *n);
    }
    if (auto n = integer_member(member(*usage, "prompt_tokens_details"), "cached_tokens")) {
      answer.usage.set("cached_tokens", *n);
    }
    if (auto n = integer_member(member(*usage, "completion_tokens_details"), "reasoning_tokens")) {
      answer.usage.set("reasoning_tokens", *n);
    }
  }
  return answer;
}

}  // namespace artana::io
