// run:model answered by an OpenAI-compatible endpoint over real libcurl, against a local
// server: both API forms, the route, retries, repairs, refusals, streams, usage and cost,
// replay with no endpoint, the key kept out of everything recorded, 100 calls at once.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "host/host_fixture.h"
#include "support/http_test_server.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

// A Chat Completions answer with `content` (JSON-escaped by the caller) and usage.
std::string chat_answer(const std::string& content_json, const std::string& extra = "") {
  return R"({"id":"chatcmpl-7","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":)" +
         content_json + extra +
         R"(},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":40}}})";
}

std::string responses_answer(const std::string& text) {
  return R"({"id":"resp_1","status":"completed","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":)" +
         kernel::canonical_json(Json(text), "t").value() +
         R"(}]}],"usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15}})";
}

HttpReply json_reply(std::string body, int status = 200) {
  HttpReply reply;
  reply.status = status;
  reply.headers = {{"Content-Type", "application/json"}, {"x-request-id", "req_42"}};
  reply.body = std::move(body);
  return reply;
}

host::HostOptions with_endpoint(const HttpTestServer& server, host::ApiMode mode,
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

const char kAsk[] = R"lua(
return function(run, input)
  local r = run:model{ model = input.model or "gpt-test", prompt = input.prompt or "hello",
                       stream = input.stream }
  return { text = r.output.text, tokens = r.usage.total_tokens, replayed = r.replayed }
end
)lua";

const Json* terminal_payload(HostFixture& f, const std::string& run, const std::string& type) {
  static std::vector<kernel::Event> kept;
  kept = f.events(run);
  for (const kernel::Event& event : kept) {
    if (event.type == type) return &event.payload;
  }
  return nullptr;
}

}  // namespace

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

TEST_CASE("transient failures are retried within the step after the wait the server asks",
          "[http]") {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  HttpTestServer server([&](const HttpRequest&) {
    std::lock_guard<std::mutex> lock(mu);
    arrivals.push_back(std::chrono::steady_clock::now());
    if (arrivals.size() == 1) {
      HttpReply busy = json_reply(R"({"error":{"message":"slow down"}})", 429);
      busy.headers.emplace_back("retry-after-ms", "700");
      return busy;
    }
    if (arrivals.size() == 2) return json_reply("oops", 500);
    if (arrivals.size() == 3) {
      HttpReply cut = json_reply(chat_answer("\"partial answer that is cut\""));
      cut.cut_after_bytes = 20;
      return cut;
    }
    return json_reply(chat_answer("\"finally\""));
  });
  host::HostOptions options = with_endpoint(server, host::ApiMode::kChat);
  options.models.entries["*"].max_retries = 3;
  HostFixture f(std::move(options));
  const std::string path = f.script("ask.lua", kAsk);
  host::RunOutcome done = f.run(path, "run-retry");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("text")->as_string() == "finally");
  REQUIRE(arrivals.size() == 4);
  CHECK(arrivals[1] - arrivals[0] >= std::chrono::milliseconds(700));
  const Json* completed = terminal_payload(f, "run-retry", "model_completed");
  CHECK(completed->find("call")->find("attempts")->as_integer() == 4);
  // One step in the ledger, whatever the attempts.
  CHECK(f.count("run-retry", "model_requested") == 1);

  SECTION("out of retries: model_failed, transient, recorded once") {
    HttpTestServer down([](const HttpRequest&) { return json_reply("{}", 503); });
    host::HostOptions one_retry = with_endpoint(down, host::ApiMode::kChat);
    one_retry.models.entries["*"].max_retries = 1;
    f.restart(std::move(one_retry));
    host::RunOutcome failed = f.run(path, "run-down");
    REQUIRE(failed.status == RunStatus::kFailed);
    CHECK(failed.error.find("kind")->as_string() == "model_failed");
    CHECK(down.request_count() == 2);
    const Json* recorded = terminal_payload(f, "run-down", "model_failed");
    CHECK(recorded->find("error")->find("category")->as_string() == "transient");
    CHECK(recorded->find("error")->find("transient")->as_bool());
  }
}

TEST_CASE("an answer its schema refuses gets a repair turn, then fails as invalid output",
          "[http]") {
  std::atomic<int> calls{0};
  std::string repair_request;
  HttpTestServer server([&](const HttpRequest& request) {
    if (++calls == 1) return json_reply(chat_answer(R"("{\"name\":\"x\"}")"));
    repair_request = request.body;
    return json_reply(chat_answer(R"("{\"name\":\"x\",\"age\":3}")"));
  });
  const char kTyped[] = R"lua(
return function(run)
  local r = run:model{ model = "m", prompt = "who?", schema = { name = "string", age = "number" } }
  return r.output
end
)lua";
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  const std::string path = f.script("typed.lua", kTyped);
  host::RunOutcome done = f.run(path, "run-repair");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"age":3,"name":"x"})");
  CHECK(calls == 2);
  CHECK(repair_request.find("does not match the JSON schema") != std::string::npos);
  CHECK(repair_request.find("age") != std::string::npos);
  auto first = kernel::parse_json(server.requests()[0].body, "b");
  REQUIRE(first.ok());
  CHECK(first->find("response_format")->find("json_schema")->find("strict")->as_bool());
  // Usage summed over both attempts.
  const Json* completed = terminal_payload(f, "run-repair", "model_completed");
  CHECK(completed->find("usage")->find("total_tokens")->as_integer() == 240);

  SECTION("no repairs allowed: model_output_invalid, live and replayed, the cost kept") {
    calls = 0;
    host::HostOptions strict = with_endpoint(server, host::ApiMode::kChat);
    strict.models.entries["*"].repair_attempts = 0;
    f.restart(std::move(strict));
    host::RunOutcome failed = f.run(path, "run-invalid");
    REQUIRE(failed.status == RunStatus::kFailed);
    CHECK(failed.error.find("kind")->as_string() == "model_output_invalid");
    const Json* recorded = terminal_payload(f, "run-invalid", "model_failed");
    CHECK(recorded->find("error")->find("category")->as_string() == "invalid_output");
    CHECK(recorded->find("cost_micro_usd")->as_integer() == 320);
    f.restart();
    host::RunOutcome replayed = f.run(path, "run-invalid");
    CHECK(replayed.error.find("kind")->as_string() == "model_output_invalid");
  }
}

TEST_CASE("a refusal fails the step as model_refused", "[http]") {
  HttpTestServer server([](const HttpRequest&) {
    return json_reply(chat_answer("null", R"(,"refusal":"I can't help with that")"));
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  host::RunOutcome failed = f.run(f.script("ask.lua", kAsk), "run-refused");
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(failed.error.find("kind")->as_string() == "model_refused");
  CHECK(failed.error.find("message")->as_string().find("I can't help") != std::string::npos);
}

TEST_CASE("a streamed answer arrives in pieces and is the same answer", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    HttpReply reply;
    reply.headers = {{"Content-Type", "text/event-stream"}};
    const bool asked = request.body.find("\"stream\":true") != std::string::npos;
    if (!asked) return json_reply("{}", 400);
    reply.stream = {
        {0, "data: {\"choices\":[{\"delta\":{\"content\":\"str\"}}]}\n\n"},
        {30,
         "data: {\"choices\":[{\"delta\":{\"content\":\"eamed\"},\"finish_reason\":\"stop\"}]}\n"},
        {30,
         "\ndata: "
         "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":"
         "5}}\n\ndata: [DONE]\n\n"}};
    return reply;
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  host::RunOutcome done =
      f.run(f.script("ask.lua", kAsk), "run-stream", Json::object({{"stream", true}}));
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(text(done.output) == R"({"replayed":false,"text":"streamed","tokens":5})");
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

TEST_CASE("100 runs have their 100 requests in flight at once", "[http]") {
  std::atomic<int> now{0}, most{0};
  HttpTestServer server([&](const HttpRequest&) {
    const int at_once = ++now;
    int seen = most.load();
    while (at_once > seen && !most.compare_exchange_weak(seen, at_once)) {
    }
    // Held until all 100 arrived (or 10 s): proves they were in flight together.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (most.load() < 100 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    --now;
    return json_reply(chat_answer("\"ok\""));
  });
  host::HostOptions options = with_endpoint(server, host::ApiMode::kChat);
  options.models.entries["*"].max_connections = 100;
  HostFixture f(std::move(options));
  const std::string path = f.script("ask.lua", kAsk);
  for (int i = 0; i < 100; ++i) {
    host::RunOptions run;
    run.run_id = kernel::RunId("run-wide-" + std::to_string(i));
    run.tenant.tenant_id = kernel::TenantId("acme");
    REQUIRE(f.host->start(path, run).ok());
  }
  f.drive("run-wide-0");
  for (int i = 0; i < 100; ++i) {
    auto outcome = f.host->outcome(kernel::RunId("run-wide-" + std::to_string(i)));
    REQUIRE(outcome.has_value());
    INFO(text(outcome->error));
    REQUIRE(outcome->status == RunStatus::kCompleted);
  }
  CHECK(most.load() == 100);
}

TEST_CASE("an HTTP call in flight is adopted by a reload and cancelled by an unload", "[http]") {
  std::atomic<int> arrived{0};
  HttpTestServer server([&](const HttpRequest&) {
    ++arrived;
    HttpReply reply = json_reply(chat_answer("\"slow\""));
    reply.delay_ms = 300;
    return reply;
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  const std::string path = f.script("ask.lua", kAsk);
  auto start_until_in_flight = [&](const std::string& run_id) {
    host::RunOptions options;
    options.run_id = kernel::RunId(run_id);
    options.tenant.tenant_id = kernel::TenantId("acme");
    REQUIRE(f.host->start(path, options).ok());
    for (int i = 0; i < 100 && f.host->in_flight() == 0; ++i) {
      f.host->tick(std::chrono::milliseconds(10));
    }
    REQUIRE(f.host->in_flight() == 1);
  };

  SECTION("reload: the new execution adopts the call, one request, one step") {
    start_until_in_flight("run-adopt");
    REQUIRE(f.host->reload(kernel::RunId("run-adopt")).ok());
    host::RunOutcome done = f.drive("run-adopt");
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    CHECK(done.output.find("text")->as_string() == "slow");
    CHECK(arrived == 1);
    CHECK(f.count("run-adopt", "model_requested") == 1);
  }
  SECTION("unload: the request is cancelled and its answer never arrives") {
    start_until_in_flight("run-unload");
    REQUIRE(server.wait_for_requests(1));
    REQUIRE(f.host->unload(kernel::RunId("run-unload")).ok());
    CHECK(f.host->in_flight() == 0);
    f.host->tick(std::chrono::milliseconds(10));
    CHECK(f.count("run-unload", "model_requested") == 0);
    CHECK(f.host->kernel().stats().pending_steps == 0);
  }
}

}  // namespace artana::testing
