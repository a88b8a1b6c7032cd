#include "json_schema/schema_cache.h"

#include "artana/kernel/canonical_json.h"

namespace artana::kernel {

Result<JsonSchema> SchemaCache::get(const Json& schema) {
  ARTANA_ASSIGN_OR_RETURN(std::string text, canonical_json(schema, "schema"));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = compiled_.find(text); it != compiled_.end()) return it->second;
  }
  // Compiled outside the lock: a large schema takes a while, and other runs need not wait.
  ARTANA_ASSIGN_OR_RETURN(JsonSchema made, JsonSchema::compile(schema));
  std::lock_guard<std::mutex> lock(mu_);
  return compiled_.emplace(std::move(text), std::move(made)).first->second;
}

}  // namespace artana::kernel
