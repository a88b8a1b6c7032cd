#include "artana/kernel/tool_registry.h"

#include <mutex>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"

namespace artana::kernel {
namespace {

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status ToolRegistry::add(ToolSpec spec) {
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<const RegisteredTool> tool, compile(std::move(spec)));
  return add_shared(std::move(tool));
}

Result<std::shared_ptr<const RegisteredTool>> ToolRegistry::compile(ToolSpec spec) {
  if (!valid_tool_name(spec.name)) {
    return Status::invalid_argument("tool name '{}' must be 1..64 of A-Z a-z 0-9 _ . -", spec.name);
  }
  if (!spec.arguments.is_object()) {
    return Status::invalid_argument("tool '{}': arguments must be a JSON Schema object", spec.name);
  }
  if (spec.version.empty()) {
    return Status::invalid_argument("tool '{}': version must not be empty", spec.name);
  }
  Json identity =
      Json::object({{"arguments", spec.arguments}, {"name", spec.name}, {"version", spec.version}});
  ARTANA_ASSIGN_OR_RETURN(std::string canonical,
                          canonical_json(identity, "tool '" + spec.name + "'"));
  auto schema = JsonSchema::compile(spec.arguments);
  if (!schema.ok()) return schema.status().with_context("tool '" + spec.name + "' arguments");
  auto tool = std::make_shared<RegisteredTool>();
  tool->schema = std::move(schema).value();
  tool->signature = Sha256::of(canonical).hex();
  tool->spec = std::move(spec);
  return std::shared_ptr<const RegisteredTool>(std::move(tool));
}

Status ToolRegistry::add_shared(std::shared_ptr<const RegisteredTool> tool) {
  if (tool == nullptr) return Status::invalid_argument("a registered tool is null");
  std::unique_lock<std::shared_mutex> lock(mu_);
  const std::string name = tool->spec.name;
  if (!tools_.emplace(name, std::move(tool)).second) {
    return Status::already_exists("tool '{}' is already registered", name);
  }
  return Status();
}

Status RegisteredTool::validate_arguments(const Json& arguments) const {
  if (!arguments.is_object()) {
    return Status::invalid_argument("tool '{}': args must be an object, got {}", spec.name,
                                    json_type_name(arguments.type()));
  }
  if (!schema) return Status();
  return schema->validate(arguments, "args").with_context("tool '" + spec.name + "'");
}

const RegisteredTool* ToolRegistry::find(std::string_view name) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ToolRegistry::names() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, tool] : tools_) out.push_back(name);
  return out;
}

}  // namespace artana::kernel
