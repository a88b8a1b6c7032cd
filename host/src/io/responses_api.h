// The Responses form of a model call (POST <base>/responses, `store: false`: nothing kept
// on the provider's side) and of its answer, in the same one shape as Chat Completions
// (chat_completions.h, model_answer.h).
//
// A conversation becomes `input` items: messages, an assistant's tool calls as
// `function_call` items and tool results as `function_call_output`; tools are flat
// `{type: "function", name, description, parameters}`; a schema is `text.format`. The
// option `max_tokens` is sent as Responses' `max_output_tokens`; other options as they are.
// Usage comes back in the Chat names (input_tokens → prompt_tokens, …).
#pragma once

#include <string>
#include <string_view>

#include "artana/kernel/kernel_types.h"
#include "artana/kernel/status.h"
#include "model_answer.h"

namespace artana::io {

// kInvalidArgument naming the field for what cannot be sent.
Result<std::string> responses_request_body(const kernel::ModelCall& call, bool stream);

// A whole response body with a 2xx status; kInvalidArgument saying what is wrong when it is
// not a Responses answer.
Result<ModelAnswer> parse_responses_response(std::string_view body);
// The same from the response object (a stream's `response.completed` carries one).
Result<ModelAnswer> responses_answer(const kernel::Json& response);

}  // namespace artana::io
