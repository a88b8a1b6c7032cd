// Where live model steps go when no Lua port takes them: OpenAI-compatible endpoints (OpenAI,
// llama.cpp's llama-server, vLLM, Ollama…), keyed by model name or name prefix.
//
// A live step's route (issue 12): a Lua port of that exact name; else the endpoint for the
// name or its longest matching prefix; else a "*" Lua port; else the default endpoint (the
// entry keyed "*", what `--model-endpoint` sets); else the step fails naming the model. A
// recorded step replays without any of this configured.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::host {

enum class ApiMode {
  kAuto,       // Responses; Chat Completions once a server says it has no Responses API
  kResponses,  // <base>/responses, store: false
  kChat,       // <base>/chat/completions
};
std::string_view api_mode_name(ApiMode mode);
Result<ApiMode> parse_api_mode(std::string_view name);

// USD per million tokens. Without prices a step's cost is unknown (never zero).
struct ModelPrices {
  double input = 0, cached_input = 0, output = 0;
};

struct ModelEndpoint {
  // As the OpenAI SDKs take it ("https://api.openai.com/v1", "http://127.0.0.1:8080/v1"):
  // requests go to <base_url>/responses or <base_url>/chat/completions.
  std::string base_url;
  // The environment variable holding the API key, read at each call and sent only as
  // `Authorization: Bearer`; empty: no key.
  std::string api_key_env;
  ApiMode api_mode = ApiMode::kAuto;
  double connect_timeout_s = 10;  // to establish the connection
  double idle_timeout_s = 120;    // with no byte received (a stream may run far longer)
  double step_deadline_s = 600;   // the whole step, retries included
  int max_retries = 2;
  int repair_attempts = 1;   // asking again once for output its schema refuses
  int max_connections = 64;  // per host
  bool stream = false;
  std::optional<ModelPrices> prices;

  // The request URLs (the base without its trailing '/').
  std::string responses_url() const;
  std::string chat_url() const;
};

struct ModelEndpoints {
  // Keyed by a model name, or a prefix ending in '*' ("gpt-4o*"); "*" is the default.
  std::map<std::string, ModelEndpoint, std::less<>> entries;

  // The endpoint named for `model` exactly, else the one with its longest matching prefix;
  // the default ("*") is not included (a "*" Lua port ranks before it).
  const ModelEndpoint* find(std::string_view model) const;
  const ModelEndpoint* default_endpoint() const;
  // Every entry's key and fields are usable: kInvalidArgument naming the entry and the field
  // otherwise ("models entry 'gpt-4o*': idle_timeout_s must be a positive number of seconds").
  Status check() const;
};

// Endpoints from a table (what a `--models` file returns): keyed by model name or prefix,
// each entry's fields named as ModelEndpoint's (`prices = {input, cached_input, output}`,
// `api_mode = "auto" | "responses" | "chat"`). kInvalidArgument naming `source`, the entry
// and the field: an unknown field, a value of the wrong type, or what check() refuses.
Result<ModelEndpoints> parse_model_endpoints(const kernel::Json& table, std::string_view source);

}  // namespace artana::host
