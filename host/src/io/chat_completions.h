// The Chat Completions form of a model call (POST <base>/chat/completions) and of its
// answer: what OpenAI and the servers people run themselves (llama.cpp's llama-server, vLLM,
// Ollama) all speak.
//
// A call's messages have one shape whatever the API: {role, content}, an assistant's
// `tool_calls = [{id, name, arguments}]` (arguments a JSON value), a tool result's
// `tool_call_id`. Here they become Chat's: tool calls as `{id, type: "function",
// function: {name, arguments: "<JSON text>"}}`. A call's `options` (temperature,
// max_tokens, seed, …) go into the request as they are, except the members this form sets
// itself. The answer comes back in the same one shape (ModelAnswer).
#pragma once

#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/status.h"
#include "model_answer.h"

namespace artana::io {

// The request body. kInvalidArgument naming the field for what cannot be sent (an option
// that would replace a member set here, a message of an unknown shape).
Result<std::string> chat_request_body(const kernel::ModelCall& call, bool stream);

// A whole (not streamed) response body with a 2xx status. kInvalidArgument saying what is
// wrong when it is not a Chat Completions answer (not JSON, no choices, tool call arguments
// that are not JSON).
Result<ModelAnswer> parse_chat_response(std::string_view body);

}  // namespace artana::io
