#include "model_request_parts.h"

#include "artana/kernel/canonical_json.h"
#include "json_access.h"

namespace artana::io {

using kernel::Json;

Status copy_options(const Json& options, std::initializer_list<std::string_view> set_here,
                    Json& body, std::string_view (*rename)(std::string_view name)) {
  if (!options.is_object()) return Status();
  for (const auto& [key, value] : options.as_object()) {
    for (std::string_view reserved : set_here) {
      if (key == reserved) {
        return Status::invalid_argument(
            "options.{} cannot be set: the request's `{}` comes from the call itself", key, key);
      }
    }
    body.set(std::string(rename != nullptr ? rename(key) : key), value);
  }
  return Status();
}

void put_function_fields(const Json& tool, Json& out) {
  if (const std::string* name = string_member(tool, "name")) out.set("name", *name);
  if (const std::string* what = string_member(tool, "description")) out.set("description", *what);
  const Json* schema = member(tool, "arguments");
  out.set("parameters", schema != nullptr
                            ? *schema
                            : Json::object({{"type", "object"}, {"properties", Json::object()}}));
}

Result<ToolCallParts> tool_call_parts(const Json& call, size_t message_index, size_t call_index) {
  const std::string* id = string_member(call, "id");
  const std::string* name = string_member(call, "name");
  if (id == nullptr || name == nullptr) {
    return Status::invalid_argument("messages[{}].tool_calls[{}] needs a string `id` and `name`",
                                    message_index + 1, call_index + 1);
  }
  const Json* arguments = member(call, "arguments");
  ARTANA_ASSIGN_OR_RETURN(std::string text,
                          kernel::canonical_json(arguments ? *arguments : Json::object()));
  return ToolCallParts{*id, *name, std::move(text)};
}

}  // namespace artana::io
