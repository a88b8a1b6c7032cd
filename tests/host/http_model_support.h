// What the tests of run:model over HTTP share (http_model_*_test.cc): canned answers of
// both API forms, an endpoint on the test server, the script that asks, a terminal's payload.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "host/host_fixture.h"
#include "support/http_test_server.h"

namespace artana::testing {

using kernel::Json;
using kernel::RunStatus;

// A Chat Completions answer with `content` (JSON-escaped by the caller) and usage.
inline std::string chat_answer(const std::string& content_json, const std::string& extra = "") {
  return R"({"id":"chatcmpl-7","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":)" +
         content_json + extra +
         R"(},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":40}}})";
}

inline std::string responses_answer(const std::string& text) {
  return R"({"id":"resp_1","status":"completed","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":)" +
         kernel::canonical_json(Json(text), "t").value() +
         R"(}]}],"usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15}})";
}

inline HttpReply json_reply(std::string body, int status = 200) {
  HttpReply reply;
  reply.status = status;
  reply.headers = {{"Content-Type", "application/json"}, {"x-request-id", "req_42"}};
  reply.body = std::move(body);
  return reply;
}

inline host::HostOptions with_endpoint(const HttpTestServer& server, host::ApiMode mode,
                                       const std::string& key_env = "") {
  host::HostOptions options;
  host::ModelEndpoint endpoint;
  endpoint.base_url = server.url("/v1");
  endpoint.api_mode = mode;
  endpoint.api_key_env = key_env;
  endpoint.prices = host::ModelPrices{2.0, 1.0, 8.0};
  options.models.entries.emplace("*", endpoint);
  return options;
}

inline const char kAsk[] = R"lua(
return function(run, input)
  local r = run:model{ model = input.model or "gpt-test", prompt = input.prompt or "hello",
                       stream = input.stream }
  return { text = r.output.text, tokens = r.usage.total_tokens, replayed = r.replayed }
end
)lua";

// Runs kAsk as `run_id` with `input` on `f`, which must complete it.
inline host::RunOutcome ask_completed(HostFixture& f, const std::string& run_id,
                                      Json input = Json::object()) {
  host::RunOutcome done = f.run(f.script("ask.lua", kAsk), run_id, std::move(input));
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  return done;
}

inline const Json* terminal_payload(HostFixture& f, const std::string& run,
                                    const std::string& type) {
  static std::vector<kernel::Event> kept;
  kept = f.events(run);
  for (const kernel::Event& event : kept) {
    if (event.type == type) return &event.payload;
  }
  return nullptr;
}

}  // namespace artana::testing
