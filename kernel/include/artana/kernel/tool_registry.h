// ToolRegistry: the tools a kernel's runs may call, each with a signature hash.
//
// The signature is SHA-256 over the canonical JSON {"arguments","name","version"}: a model
// step records the signatures of the tools it offered, so replay notices a changed tool
// schema as drift. Registering a name twice is an error. Thread-safe.
//
// A kernel owns one (Kernel::tools(), what runs use by default); a host may build others
// and hand them to a run as shared_ptr<const ToolRegistry> (Kernel::set_run_tools): filled
// first, then only read, and kept alive by every tool call begun under it.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/json_schema.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

struct ToolSpec {
  std::string name;  // 1..64 of [A-Za-z0-9_.-]
  std::string description;
  Json arguments = Json::object();  // JSON Schema (draft 7) of the arguments, checked on add
  std::string version = "1";
  std::string capability;    // the tenant needs it to see or call the tool; empty: none
  bool side_effect = false;  // two-phase with a synced request, never re-run by itself
  // The capability is needed in every policy mode, even by a tenant given no capability
  // list (which may otherwise use every tool): the host's built-ins (network, processes,
  // files) are never open by default.
  bool capability_required = false;
};

struct RegisteredTool {
  ToolSpec spec;
  std::string signature;             // 64 hex digits
  std::optional<JsonSchema> schema;  // spec.arguments, compiled when registered
  // ok, or kInvalidArgument naming the tool and the first bad field ("args.n: …").
  Status validate_arguments(const Json& arguments) const;
};

class ToolRegistry {
 public:
  Status add(ToolSpec spec);
  // A tool compiled once (its schema and signature), for registries that share it: a host's
  // built-ins are in every run's registry without being compiled per run.
  static Result<std::shared_ptr<const RegisteredTool>> compile(ToolSpec spec);
  Status add_shared(std::shared_ptr<const RegisteredTool> tool);
  // nullptr when there is no such tool. The pointer stays valid for the registry's life.
  const RegisteredTool* find(std::string_view name) const;
  std::vector<std::string> names() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const RegisteredTool>, std::less<>> tools_;
};

}  // namespace artana::kernel
