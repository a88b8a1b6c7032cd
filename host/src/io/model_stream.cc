#include "model_stream.h"

#include "json_access.h"
#include "responses_api.h"

namespace artana::io {

using kernel::Json;

Status ModelStreamReader::feed(std::string_view chunk) {
  if (!failed_.ok()) return failed_;
  events_.clear();
  Status parsed = parser_.feed(chunk, events_);
  for (const SseEvent& event : events_) {
    if (!parsed.ok()) break;
    parsed = take(event);
  }
  if (!parsed.ok()) failed_ = parsed;
  return parsed;
}

Status ModelStreamReader::take(const SseEvent& event) {
  if (done_) return Status();  // anything after the end marker is not part of the answer
  if (format_ == WireFormat::kChat && event.data == "[DONE]") {
    done_ = true;
    return Status();
  }
  Result<Json> data = kernel::parse_json(event.data, "a stream event");
  if (!data.ok() || !data->is_object()) {
    return Status::invalid_argument("a `{}` event of the stream is not a JSON object: {}",
                                    event.type,
                                    data.ok() ? "another value" : data.status().message());
  }
  if (event.type == "error") return reported_error(*data);
  if (format_ == WireFormat::kChat) {
    if (member(*data, "error") != nullptr) return reported_error(*data);
    return take_chat(*data);
  }
  const std::string* type = string_member(*data, "type");
  return take_responses(type != nullptr ? std::string_view(*type) : event.type, *data);
}

Status ModelStreamReader::reported_error(const Json& error) {
  std::string message = provider_error_message(error);
  if (message.empty()) message = "no message";
  if (provider_error_is_transient(error)) {
    return Status::unavailable("the server reported an error in its stream: {}", message);
  }
  return Status::failed_precondition("the server reported an error in its stream: {}", message);
}

Status ModelStreamReader::take_chat(const Json& chunk) {
  if (answer_.response_id.empty()) {
    if (const std::string* id = string_member(chunk, "id")) answer_.response_id = *id;
  }
  if (const Json* usage = member(chunk, "usage"); usage != nullptr && usage->is_object()) {
    answer_.usage =
        usage_in_chat_names(usage, {"prompt_tokens", "completion_tokens", "total_tokens",
                                    "prompt_tokens_details", "completion_tokens_details"});
  }
  const Json* choices = member(chunk, "choices");
  if (choices == nullptr || !choices->is_array() || choices->size() == 0) return Status();
  const Json& choice = choices->as_array()[0];  // one answer is asked for
  if (const std::string* reason = string_member(choice, "finish_reason")) {
    answer_.finish_reason = *reason;
  }
  const Json* delta = member(choice, "delta");
  if (delta == nullptr) return Status();
  if (const std::string* text = string_member(*delta, "content")) answer_.text += *text;
  if (const std::string* refusal = string_member(*delta, "refusal")) {
    answer_.refusal = answer_.refusal.value_or("") + *refusal;
  }
  const Json* fragments = member(*delta, "tool_calls");
  if (fragments == nullptr || !fragments->is_array()) return Status();
  for (const Json& fragment : fragments->as_array()) {
    const std::optional<int64_t> index = integer_member(&fragment, "index");
    const std::string* id = string_member(fragment, "id");
    CallParts* call = nullptr;
    if (index) {
      for (CallParts& parts : calls_) {
        if (parts.index == index) call = &parts;  // the latest call of that index
      }
      // Servers that number every call 0 tell them apart by their ids.
      if (call != nullptr && id != nullptr && !id->empty() && !call->id.empty() &&
          call->id != *id) {
        call = nullptr;
      }
    } else if (id != nullptr && !id->empty()) {
      for (CallParts& parts : calls_) {
        if (parts.id == *id) call = &parts;
      }
    } else if (!calls_.empty()) {
      call = &calls_.back();
    }
    if (call == nullptr) {
      calls_.push_back(CallParts{index, {}, {}, {}});
      call = &calls_.back();
    }
    if (id != nullptr && call->id.empty()) call->id = *id;
    const Json* function = member(fragment, "function");
    if (function == nullptr) continue;
    if (const std::string* name = string_member(*function, "name")) {
      if (call->name.empty()) call->name = *name;  // some servers repeat it in each fragment
    }
    if (const std::string* arguments = string_member(*function, "arguments")) {
      call->arguments += *arguments;
    }
  }
  return Status();
}

Status ModelStreamReader::take_responses(std::string_view type, const Json& event) {
  if (type == "error") return reported_error(event);
  if (type == "response.failed") {
    const Json* response = member(event, "response");
    const Json* error = response != nullptr ? member(*response, "error") : nullptr;
    return reported_error(error != nullptr ? *error : event);
  }
  if (type != "response.completed" && type != "response.incomplete") return Status();
  const Json* response = member(event, "response");
  if (response == nullptr) {
    return Status::invalid_argument("the stream's `{}` event has no `response`", type);
  }
  ARTANA_ASSIGN_OR_RETURN(ModelAnswer answer, responses_answer(*response));
  completed_ = std::move(answer);
  done_ = true;
  return Status();
}

Result<ModelAnswer> ModelStreamReader::finish() {
  if (!failed_.ok()) return failed_;
  if (!done_ || parser_.has_partial()) {
    // Chat servers that end with a finish_reason but no [DONE] have still said everything.
    const bool chat_finished =
        format_ == WireFormat::kChat && !answer_.finish_reason.empty() && !parser_.has_partial();
    if (!chat_finished) {
      return Status::invalid_argument(
          "the stream ended before its end ({})",
          format_ == WireFormat::kChat ? "no `data: [DONE]`" : "no `response.completed`");
    }
  }
  if (format_ == WireFormat::kResponses) return std::move(*completed_);
  return chat_answer();
}

Result<ModelAnswer> ModelStreamReader::chat_answer() {
  ModelAnswer answer = std::move(answer_);
  for (size_t i = 0; i < calls_.size(); ++i) {
    const CallParts& call = calls_[i];
    if (call.name.empty()) {
      return Status::invalid_argument("the stream's tool call {} has no `function.name`", i + 1);
    }
    ARTANA_RETURN_IF_ERROR(
        add_tool_call(answer, call.id.empty() ? nullptr : &call.id, call.name, &call.arguments, i));
  }
  return answer;
}

}  // namespace artana::io
