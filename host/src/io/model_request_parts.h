// What the Chat Completions and Responses request bodies build the same way: the call's
// options, a tool's function fields, an assistant's tool call in a conversation.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::io {

// Copies the call's `options` into `body`, refusing one that names a member in `set_here`
// (kInvalidArgument naming it); `rename` gives an option's name in this API.
Status copy_options(const kernel::Json& options, std::initializer_list<std::string_view> set_here,
                    kernel::Json& body,
                    std::string_view (*rename)(std::string_view name) = nullptr);

// A tool of the call ({name, description, arguments: JSON Schema}) as a function's
// {name, description, parameters} members, added to `out`.
void put_function_fields(const kernel::Json& tool, kernel::Json& out);

// An assistant message's tool call ({id, name, arguments}), its arguments as JSON text;
// kInvalidArgument naming messages[m].tool_calls[c] when it is not one.
struct ToolCallParts {
  std::string id, name, arguments;
};
Result<ToolCallParts> tool_call_parts(const kernel::Json& call, size_t message_index,
                                      size_t call_index);

}  // namespace artana::io
