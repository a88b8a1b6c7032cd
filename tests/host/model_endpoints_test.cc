// Model endpoints: which one a model name reaches, and a configuration refused field by field.
#include <catch2/catch.hpp>

#include <cmath>

#include "artana/host/model_endpoints.h"

using artana::StatusCode;
using artana::host::ApiMode;
using artana::host::ModelEndpoint;
using artana::host::ModelEndpoints;
using artana::host::ModelPrices;

namespace {

ModelEndpoint at(const std::string& base) {
  ModelEndpoint e;
  e.base_url = base;
  return e;
}

void check_refused(const ModelEndpoints& endpoints, const std::string& entry,
                   const std::string& field) {
  auto status = endpoints.check();
  INFO(status.message());
  REQUIRE_FALSE(status.ok());
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(status.message(), Catch::Contains("'" + entry + "'"));
  CHECK_THAT(status.message(), Catch::Contains(field));
}

}  // namespace

TEST_CASE("a model reaches its exact entry, else its longest prefix, and '*' is the default",
          "[endpoints]") {
  ModelEndpoints endpoints;
  endpoints.entries["gpt-4o"] = at("https://exact/v1");
  endpoints.entries["gpt-*"] = at("https://gpt/v1");
  endpoints.entries["gpt-4*"] = at("https://gpt4/v1");
  endpoints.entries["*"] = at("http://127.0.0.1:8080/v1/");
  REQUIRE(endpoints.check().ok());
  CHECK(endpoints.find("gpt-4o")->base_url == "https://exact/v1");
  CHECK(endpoints.find("gpt-4o-mini")->base_url == "https://gpt4/v1");
  CHECK(endpoints.find("gpt-3.5")->base_url == "https://gpt/v1");
  CHECK(endpoints.find("llama-3") == nullptr);  // the default ranks after a "*" Lua port
  REQUIRE(endpoints.default_endpoint() != nullptr);
  CHECK(endpoints.default_endpoint()->responses_url() == "http://127.0.0.1:8080/v1/responses");
  CHECK(endpoints.default_endpoint()->chat_url() == "http://127.0.0.1:8080/v1/chat/completions");
  CHECK(ModelEndpoints().find("x") == nullptr);
  CHECK(ModelEndpoints().default_endpoint() == nullptr);
}

TEST_CASE("the defaults are the issue's: timeouts 10/120/600 s, 2 retries, 64 connections",
          "[endpoints]") {
  const ModelEndpoint e;
  CHECK(e.api_mode == ApiMode::kAuto);
  CHECK(e.connect_timeout_s == 10);
  CHECK(e.idle_timeout_s == 120);
  CHECK(e.step_deadline_s == 600);
  CHECK(e.max_retries == 2);
  CHECK(e.repair_attempts == 1);
  CHECK(e.max_connections == 64);
  CHECK_FALSE(e.stream);
  CHECK_FALSE(e.prices.has_value());
  CHECK(*artana::host::parse_api_mode("chat") == ApiMode::kChat);
  CHECK(artana::host::parse_api_mode("completions").status().code() ==
        StatusCode::kInvalidArgument);
}

TEST_CASE("a bad entry is refused naming the entry and the field", "[endpoints]") {
  auto one = [](const std::string& key, ModelEndpoint e) {
    ModelEndpoints endpoints;
    endpoints.entries[key] = std::move(e);
    return endpoints;
  };
  check_refused(one("m", at("ftp://host/v1")), "m", "base_url");
  check_refused(one("m", at("https://")), "m", "base_url");
  check_refused(one("m", at("http:///")), "m", "base_url");
  CHECK(one("m", at("http://a")).check().ok());  // a one-letter host is a host
  check_refused(one("m", at("https://api.openai.com/v1/chat/completions")), "m", "base_url");
  check_refused(one("m", at("https://api.openai.com/v1/responses/")), "m", "base_url");
  check_refused(one("a*b", at("https://h/v1")), "a*b", "prefix ending in '*'");
  check_refused(one("", at("https://h/v1")), "", "a key is");
  ModelEndpoint key = at("https://h/v1");
  key.api_key_env = "OPENAI-KEY";
  check_refused(one("m", key), "m", "api_key_env");
  ModelEndpoint idle = at("https://h/v1");
  idle.idle_timeout_s = 0;
  check_refused(one("m*", idle), "m*", "idle_timeout_s");
  ModelEndpoint nan = at("https://h/v1");
  nan.step_deadline_s = std::nan("");
  check_refused(one("m", nan), "m", "step_deadline_s");
  ModelEndpoint retries = at("https://h/v1");
  retries.max_retries = -1;
  check_refused(one("m", retries), "m", "max_retries");
  ModelEndpoint connections = at("https://h/v1");
  connections.max_connections = 0;
  check_refused(one("m", connections), "m", "max_connections");
  ModelEndpoint priced = at("https://h/v1");
  priced.prices = ModelPrices{2.5, -1, 10};
  check_refused(one("m", priced), "m", "prices.cached_input");
}
