// run:model answered by an OpenAI-compatible endpoint over real libcurl, against a local
// server: both API forms and the switch between them, tool calls, the route, usage and
// cost, replay with no endpoint, the key kept out of everything recorded.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "artana/kernel/json_parse.h"
#include "host/http_model_support.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

TEST_CASE("a live model step goes to a Chat Completions endpoint: reply, usage, cost, call",
          "[http]") {
  HttpTestServer server([](const HttpRequest&) { return json_reply(chat_answer("\"hi there\"")); });
  ::setenv("ARTANA_TEST_KEY", "sk-test-9f8e7d6c5b4a", 1);
  HostFixture f(with_endpoint(server, host::ApiMode::kChat, "ARTANA_TEST_KEY"));
  const std::string path = f.script("ask.lua", kAsk);
  host::RunOutcome done = f.run(path, "run-chat");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"replayed":false,"text":"hi there","tokens":120})");

  const std::vector<HttpRequest> seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/v1/chat/completions");
  CHECK(seen[0].header("authorization") == "Bearer sk-test-9f8e7d6c5b4a");
  auto body = kernel::parse_json(seen[0].body, "body");
  REQUIRE(body.ok());
  CHECK(body->find("model")->as_string() == "gpt-test");
  CHECK(text(*body->find("messages")) == R"([{"content":"hello","role":"user"}])");

  const Json* completed = terminal_payload(f, "run-chat", "model_completed");
  REQUIRE(completed != nullptr);
  // 60 uncached × $2 + 40 cached × $1 + 20 × $8 per million tokens = 320 micro-USD.
  CHECK(completed->find("cost_micro_usd")->as_integer() == 320);
  CHECK(completed->find("cost_known")->as_bool());
  CHECK(completed->find("usage")->find("cached_tokens")->as_integer() == 40);
  const Json* call = completed->find("call");
  REQUIRE(call != nullptr);
  CHECK(call->find("api_mode")->as_string() == "chat");
  CHECK(call->find("endpoint")->as_string() == "*");
  CHECK(call->find("attempts")->as_integer() == 1);
  CHECK(call->find("http_status")->as_integer() == 200);
  CHECK(call->find("response_id")->as_string() == "chatcmpl-7");
  CHECK(call->find("request_id")->as_string() == "req_42");

  // The key is nowhere on disk.
  CHECK_FALSE(any_file_contains(f.kernel_host.dir.path(), "sk-test-9f8e7d6c5b4a"));

  // A new process with no endpoint and no key replays the step.
  ::unsetenv("ARTANA_TEST_KEY");
  f.restart();
  host::RunOutcome again = f.run(path, "run-chat");
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) == R"({"replayed":true,"text":"hi there","tokens":120})");
  CHECK(server.request_count() == 1);
}

TEST_CASE("auto mode asks Responses first and remembers a server without it", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    if (request.target == "/v1/responses") return json_reply(R"({"error":"not found"})", 404);
    return json_reply(chat_answer("\"from chat\""));
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kAuto));
  const std::string path = f.script("ask.lua", kAsk);
  REQUIRE(f.run(path, "run-a1").status == RunStatus::kCompleted);
  host::RunOutcome second = f.run(path, "run-a2");
  REQUIRE(second.status == RunStatus::kCompleted);
  CHECK(second.output.find("text")->as_string() == "from chat");
  const std::vector<HttpRequest> seen = server.requests();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].target == "/v1/responses");
  CHECK(seen[1].target == "/v1/chat/completions");
  CHECK(seen[2].target == "/v1/chat/completions");
  CHECK(seen[0].header("authorization").empty());  // no key configured: none sent
  auto sent = kernel::parse_json(seen[0].body, "body");
  REQUIRE(sent.ok());
  CHECK(sent->find("store")->as_bool() == false);
}

TEST_CASE("a 405 from the Responses endpoint switches auto mode to Chat", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    if (request.target == "/v1/responses") return json_reply(R"({"error":"method"})", 405);
    return json_reply(chat_answer("\"from chat\""));
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kAuto));
  host::RunOutcome done = ask_completed(f, "run-405");
  CHECK(done.output.find("text")->as_string() == "from chat");
  CHECK(server.request_count() == 2);
}

TEST_CASE("a 400 saying the Responses endpoint is unsupported switches to Chat", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    if (request.target == "/v1/responses") {
      return json_reply(
          R"({"error":{"message":"Unsupported endpoint: /v1/responses","type":"invalid_request_error"}})",
          400);
    }
    return json_reply(chat_answer("\"switched\""));
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kAuto));
  host::RunOutcome done = f.run(f.script("ask.lua", kAsk), "run-unsupported");
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("text")->as_string() == "switched");
  CHECK(server.request_count() == 2);
}

TEST_CASE("tool calls come back decoded, ready for run:tool, and a malformed body is retried",
          "[http]") {
  std::atomic<int> calls{0};
  HttpTestServer server([&](const HttpRequest&) {
    if (++calls == 1) return json_reply("{\"choices\": [");  // cut JSON in a 200
    // No usage: the cost is unknown, never zero.
    return json_reply(
        R"({"id":"c1","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,)"
        R"("tool_calls":[{"id":"call_9","type":"function","function":{"name":"add","arguments":"{\"a\":2,\"b\":3}"}}]}}]})");
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  const std::string path = f.script("tools.lua", R"lua(
local artana = require "artana"
artana.tool { name = "add", args = { a = "number", b = "number" },
              fn = function(args) return { sum = args.a + args.b } end }
return function(run)
  local r = run:model { model = "m", prompt = "add 2 and 3", tools = { "add" } }
  local call = r.tool_calls[1]
  local t = run:tool(call.name, call.arguments)
  return { id = call.id, sum = t.result.sum, text = r.output.text }
end
)lua");
  host::RunOutcome done = f.run(path, "run-tools");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"id":"call_9","sum":5,"text":""})");
  CHECK(calls == 2);
  auto sent = kernel::parse_json(server.requests()[0].body, "body");
  REQUIRE(sent.ok());
  CHECK(text(*sent->find("tools")).find("\"name\":\"add\"") != std::string::npos);
  const Json* completed = terminal_payload(f, "run-tools", "model_completed");
  CHECK(completed->find("cost_known")->as_bool() == false);
  CHECK(completed->find("cost_micro_usd")->as_integer() == 0);
  CHECK(completed->find("call")->find("attempts")->as_integer() == 2);
}

TEST_CASE("a Responses endpoint answers, and an ordinary 400 is not a reason to switch", "[http]") {
  std::atomic<int> calls{0};
  HttpTestServer server([&](const HttpRequest& request) {
    if (request.target != "/v1/responses") return json_reply("{}", 500);
    if (++calls == 1) {
      return json_reply(R"({"error":{"message":"bad temperature","type":"invalid_request_error"}})",
                        400);
    }
    return json_reply(responses_answer("from responses"));
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kAuto));
  const std::string path = f.script("ask.lua", kAsk);
  host::RunOutcome failed = f.run(path, "run-r1");
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(failed.error.find("kind")->as_string() == "model_failed");
  CHECK(failed.error.find("message")->as_string().find("HTTP 400") != std::string::npos);
  CHECK(failed.error.find("message")->as_string().find("bad temperature") != std::string::npos);
  const Json* recorded = terminal_payload(f, "run-r1", "model_failed");
  REQUIRE(recorded != nullptr);
  CHECK(recorded->find("error")->find("category")->as_string() == "permanent");
  CHECK(recorded->find("error")->find("call")->find("attempts")->as_integer() == 1);
  host::RunOutcome done = f.run(path, "run-r2");
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("text")->as_string() == "from responses");
  CHECK(done.output.find("tokens")->as_integer() == 15);
  CHECK(server.request_count() == 2);
}

TEST_CASE("a live step with no route fails naming the flag, and a Lua port outranks the default",
          "[http]") {
  HostFixture bare;
  host::RunOutcome failed = bare.run(bare.script("ask.lua", kAsk), "run-noroute");
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(failed.error.find("kind")->as_string() == "model_failed");
  CHECK(failed.error.find("message")->as_string().find("--model-endpoint") != std::string::npos);
  CHECK(bare.count("run-noroute", "model_requested") == 0);

  HttpTestServer server([](const HttpRequest&) { return json_reply(chat_answer("\"http\"")); });
  host::HostOptions options = with_endpoint(server, host::ApiMode::kChat);
  options.models.entries.emplace("gpt-*", options.models.entries["*"]);
  HostFixture f(std::move(options));
  const std::string path = f.script("routes.lua", R"lua(
local artana = require "artana"
artana.model_port("local", function(req) return { output = { text = "lua" } } end)
artana.model_port("*", function(req) return { output = { text = "lua-star" } } end)
return function(run)
  return { run:model{ model = "local", prompt = "a" }.output.text,
           run:model{ model = "gpt-5", prompt = "b" }.output.text,
           run:model{ model = "other", prompt = "c" }.output.text }
end
)lua");
  host::RunOutcome done = f.run(path, "run-routes");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"(["lua","http","lua-star"])");
  CHECK(server.request_count() == 1);
}

TEST_CASE("an unset key variable fails the step naming it, and a quoted key is masked", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    return json_reply(R"({"error":{"message":"Incorrect API key provided: )" +
                          request.header("authorization").substr(7) + R"("}})",
                      401);
  });
  ::unsetenv("ARTANA_UNSET_KEY");
  HostFixture f(with_endpoint(server, host::ApiMode::kChat, "ARTANA_UNSET_KEY"));
  const std::string path = f.script("ask.lua", kAsk);
  host::RunOutcome unset = f.run(path, "run-unset");
  REQUIRE(unset.status == RunStatus::kFailed);
  CHECK(unset.error.find("kind")->as_string() == "model_failed");
  CHECK(unset.error.find("message")->as_string().find("ARTANA_UNSET_KEY") != std::string::npos);
  CHECK(server.request_count() == 0);
  CHECK(f.count("run-unset", "model_requested") == 0);

  ::setenv("ARTANA_UNSET_KEY", "sk-leaky-0123456789", 1);
  host::RunOutcome quoted = f.run(path, "run-quoted");
  ::unsetenv("ARTANA_UNSET_KEY");
  REQUIRE(quoted.status == RunStatus::kFailed);
  const std::string message = quoted.error.find("message")->as_string();
  CHECK(message.find("sk-leaky-0123456789") == std::string::npos);
  CHECK(message.find("[api key]") != std::string::npos);
  CHECK(server.request_count() == 1);  // 401 is permanent
  CHECK_FALSE(any_file_contains(f.kernel_host.dir.path(), "sk-leaky-0123456789"));
}

}  // namespace
}  // namespace artana::testing
