#include "model_flags.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "artana/lua/lua_state.h"

namespace artana::host {
namespace {

// A --models file is code: it runs in the same sandbox as a script (no io, os, require),
// with small limits, and must return its table.
Result<ModelEndpoints> endpoints_from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid_argument("--models: cannot read '{}'", path);
  std::ostringstream text;
  text << in.rdbuf();
  lua::LuaLimits limits;
  limits.max_memory_bytes = size_t{64} << 20;
  limits.max_instructions = 10'000'000;
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<lua::LuaState> lua, lua::LuaState::create(limits));
  kernel::Json table;
  Status ran = lua->run_chunk(text.str(), path, &table);
  if (!ran.ok()) return Status::invalid_argument("--models: {}", ran.message());
  return parse_model_endpoints(table, path);
}

}  // namespace

Result<ModelEndpoints> endpoints_from_flags(const RunFlags& flags) {
  ModelEndpoints endpoints;
  if (flags.models_file) {
    ARTANA_ASSIGN_OR_RETURN(endpoints, endpoints_from_file(*flags.models_file));
  }
  if (flags.api_key_env && !flags.model_endpoint) {
    return Status::invalid_argument("--api-key-env names the key of --model-endpoint: give both");
  }
  if (flags.model_endpoint) {
    ModelEndpoint endpoint;
    endpoint.base_url = *flags.model_endpoint;
    if (flags.api_key_env) {
      endpoint.api_key_env = *flags.api_key_env;
    } else if (const char* key = std::getenv("OPENAI_API_KEY"); key != nullptr && *key != '\0') {
      endpoint.api_key_env = "OPENAI_API_KEY";  // what the OpenAI SDKs read
    }
    ModelEndpoints alone;
    alone.entries.emplace("*", endpoint);
    if (Status checked = alone.check(); !checked.ok()) {
      return Status::invalid_argument("--model-endpoint / --api-key-env: {}", checked.message());
    }
    endpoints.entries["*"] = std::move(endpoint);  // over a --models file's default
  }
  if (flags.stream) {
    for (auto& [key, endpoint] : endpoints.entries) endpoint.stream = true;
  }
  return endpoints;
}

}  // namespace artana::host
