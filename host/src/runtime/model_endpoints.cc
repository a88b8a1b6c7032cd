#include "artana/host/model_endpoints.h"

#include <cmath>

namespace artana::host {
namespace {

std::string_view without_trailing_slashes(std::string_view url) {
  while (url.ends_with('/')) url.remove_suffix(1);
  return url;
}

bool env_name(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

Status check_entry(std::string_view key, const ModelEndpoint& e) {
  auto bad = [&](std::string_view field, std::string_view why) {
    return Status::invalid_argument("models entry '{}': {} {}", key, field, why);
  };
  const std::string_view base = without_trailing_slashes(e.base_url);
  const size_t scheme_end = base.find("://");
  const std::string_view scheme = base.substr(0, scheme_end);
  if (scheme_end == std::string_view::npos || (scheme != "http" && scheme != "https") ||
      base.size() == scheme_end + 3 || base.find_first_of(" \t\r\n") != std::string_view::npos) {
    return bad("base_url", "must be an http:// or https:// URL such as https://api.openai.com/v1");
  }
  if (base.ends_with("/responses") || base.ends_with("/chat/completions")) {
    return bad("base_url",
               "must be the API's base (\".../v1\"), without /responses or /chat/completions");
  }
  if (!e.api_key_env.empty() && !env_name(e.api_key_env)) {
    return bad("api_key_env", "must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)");
  }
  const std::pair<const char*, double> seconds[] = {{"connect_timeout_s", e.connect_timeout_s},
                                                    {"idle_timeout_s", e.idle_timeout_s},
                                                    {"step_deadline_s", e.step_deadline_s}};
  for (const auto& [field, value] : seconds) {
    if (!std::isfinite(value) || value <= 0 || value > 86400) {
      return bad(field, "must be a positive number of seconds, at most 86400");
    }
  }
  if (e.max_retries < 0 || e.max_retries > 10) return bad("max_retries", "must be 0..10");
  if (e.repair_attempts < 0 || e.repair_attempts > 5) return bad("repair_attempts", "must be 0..5");
  if (e.max_connections < 1 || e.max_connections > 10000) {
    return bad("max_connections", "must be 1..10000");
  }
  if (e.prices) {
    const std::pair<const char*, double> prices[] = {
        {"prices.input", e.prices->input},
        {"prices.cached_input", e.prices->cached_input},
        {"prices.output", e.prices->output}};
    for (const auto& [field, value] : prices) {
      if (!std::isfinite(value) || value < 0 || value > 1e6) {
        return bad(field, "must be USD per million tokens, 0..1000000");
      }
    }
  }
  return Status();
}

}  // namespace

std::string_view api_mode_name(ApiMode mode) {
  switch (mode) {
    case ApiMode::kAuto:
      return "auto";
    case ApiMode::kResponses:
      return "responses";
    case ApiMode::kChat:
      return "chat";
  }
  return "auto";
}

Result<ApiMode> parse_api_mode(std::string_view name) {
  for (ApiMode mode : {ApiMode::kAuto, ApiMode::kResponses, ApiMode::kChat}) {
    if (api_mode_name(mode) == name) return mode;
  }
  return Status::invalid_argument("api_mode '{}' is not one of auto, responses, chat", name);
}

std::string ModelEndpoint::responses_url() const {
  return std::string(without_trailing_slashes(base_url)) + "/responses";
}

std::string ModelEndpoint::chat_url() const {
  return std::string(without_trailing_slashes(base_url)) + "/chat/completions";
}

const ModelEndpoint* ModelEndpoints::find(std::string_view model) const {
  if (auto exact = entries.find(model); exact != entries.end() && !exact->first.ends_with('*')) {
    return &exact->second;
  }
  const ModelEndpoint* best = nullptr;
  size_t best_length = 0;
  for (const auto& [key, endpoint] : entries) {
    if (key.size() < 2 || !key.ends_with('*')) continue;  // "*" is the default, not a prefix
    const std::string_view prefix = std::string_view(key).substr(0, key.size() - 1);
    if (model.starts_with(prefix) && (best == nullptr || prefix.size() > best_length)) {
      best = &endpoint;
      best_length = prefix.size();
    }
  }
  return best;
}

const ModelEndpoint* ModelEndpoints::default_endpoint() const {
  auto it = entries.find(std::string_view("*"));
  return it == entries.end() ? nullptr : &it->second;
}

Status ModelEndpoints::check() const {
  for (const auto& [key, endpoint] : entries) {
    const size_t star = key.find('*');
    if (key.empty() || (star != std::string::npos && star != key.size() - 1)) {
      return Status::invalid_argument(
          "models entry '{}': a key is a model name, or a prefix ending in '*' (\"*\" alone is "
          "the default)",
          key);
    }
    ARTANA_RETURN_IF_ERROR(check_entry(key, endpoint));
  }
  return Status();
}

}  // namespace artana::host
