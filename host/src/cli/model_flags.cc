#include "model_flags.h"

#include <cstdlib>

#include "artana/host/outside_settings.h"

namespace artana::host {

Result<ModelEndpoints> endpoints_from_flags(const RunFlags& flags) {
  ModelEndpoints endpoints;
  if (flags.models_file) {
    ARTANA_ASSIGN_OR_RETURN(endpoints, endpoints_from_file("--models", *flags.models_file));
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
