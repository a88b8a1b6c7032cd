// A model's answer in one shape, whichever API (Chat Completions, Responses) gave it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::io {

// A model's answer, whatever API gave it.
struct ModelAnswer {
  std::string text;  // the message's text; "" when it only calls tools
  kernel::Json tool_calls = kernel::Json::array();  // [{id, name, arguments (decoded)}]
  // prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens: those
  // the server reported (none: an empty object, and the cost is unknown).
  kernel::Json usage = kernel::Json::object();
  std::optional<std::string> refusal;  // the model declined (OpenAI's `refusal`)
  std::string response_id, finish_reason;
};

// Building one from either API's body.
// The body as a JSON object; kInvalidArgument saying it is not one.
Result<kernel::Json> parse_answer_object(std::string_view body);
// A tool call the model made (the `index`th of its answer): its arguments text decoded; an
// id made up when the server sent none. kInvalidArgument when the arguments are not JSON.
Status add_tool_call(ModelAnswer& answer, const std::string* id, const std::string& name,
                     const std::string* arguments, size_t index);
// The API's usage object in the Chat names: `names` gives, for prompt, completion and total
// tokens and the two detail objects, what this API calls them.
struct UsageNames {
  std::string_view prompt, completion, total, prompt_details, completion_details;
};
kernel::Json usage_in_chat_names(const kernel::Json* usage, const UsageNames& names);

// What a provider's error object says ({error: {message, type, code}}, or the error object
// itself, or a bare string): "message (type, code)"; empty when `body` says nothing. The
// caller masks secrets in it.
std::string provider_error_message(const kernel::Json& body);
// Whether an error object's type or code names a failure worth trying again (a server error,
// a rate limit, an overload): what a stream's error event is judged by, having no status.
bool provider_error_is_transient(const kernel::Json& body);

}  // namespace artana::io
