// run:model over HTTP when the answer is not simply right: transient failures retried within
// the step, a schema's repair turn, a refusal, and a streamed answer arriving in pieces.
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

// When a server saw each request (its handler runs on the server's threads).
struct Arrivals {
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> at;
  // Notes one now; returns how many there have been.
  size_t note() {
    std::lock_guard<std::mutex> lock(mu);
    at.push_back(std::chrono::steady_clock::now());
    return at.size();
  }
};

// A 429 asking the client to wait: `header` is retry-after-ms or Retry-After (seconds).
HttpReply rate_limited(const std::string& header, const std::string& wait) {
  HttpReply busy = json_reply(R"({"error":{"message":"slow down"}})", 429);
  busy.headers.emplace_back(header, wait);
  return busy;
}

TEST_CASE("transient failures are retried within the step after the wait the server asks",
          "[http]") {
  Arrivals arrivals;
  HttpTestServer server([&](const HttpRequest&) {
    const size_t n = arrivals.note();
    if (n == 1) return rate_limited("retry-after-ms", "700");
    if (n == 2) return json_reply("oops", 500);
    if (n == 3) {
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
  REQUIRE(arrivals.at.size() == 4);
  CHECK(arrivals.at[1] - arrivals.at[0] >= std::chrono::milliseconds(700));
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
    // Executed again on a host with no endpoint: the recorded failure, nothing asked.
    f.restart();
    host::RunOutcome replayed = f.run(path, "run-down");
    CHECK(replayed.error.find("kind")->as_string() == "model_failed");
    CHECK(down.request_count() == 2);
  }
}

TEST_CASE("a Retry-After in seconds is waited before the next attempt", "[http]") {
  Arrivals arrivals;
  HttpTestServer server([&](const HttpRequest&) {
    if (arrivals.note() == 1) return rate_limited("Retry-After", "1");
    return json_reply(chat_answer("\"after the wait\""));
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  host::RunOutcome done = ask_completed(f, "run-retry-after");
  CHECK(done.output.find("text")->as_string() == "after the wait");
  REQUIRE(arrivals.at.size() == 2);
  CHECK(arrivals.at[1] - arrivals.at[0] >= std::chrono::seconds(1));
  CHECK(f.count("run-retry-after", "model_requested") == 1);
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
  const std::string path = f.script("ask.lua", kAsk);
  host::RunOutcome failed = f.run(path, "run-refused");
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(failed.error.find("kind")->as_string() == "model_refused");
  CHECK(failed.error.find("message")->as_string().find("I can't help") != std::string::npos);
  // Replayed on a host with no endpoint: refused again, nothing asked.
  f.restart();
  host::RunOutcome replayed = f.run(path, "run-refused");
  CHECK(replayed.error.find("kind")->as_string() == "model_refused");
  CHECK(server.request_count() == 1);
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
  host::RunOutcome done = ask_completed(f, "run-stream", Json::object({{"stream", true}}));
  CHECK(text(done.output) == R"({"replayed":false,"text":"streamed","tokens":5})");
  // `stream` is how the answer travels, not part of the request: the same step asked without
  // it (new code, strict replay, no endpoint) replays without drift.
  const std::string unstreamed = f.script("plain.lua", R"lua(
return function(run)
  local r = run:model{ model = "gpt-test", prompt = "hello" }
  return { text = r.output.text, replayed = r.replayed }
end
)lua");
  f.restart();
  host::RunOutcome replayed = f.run(unstreamed, "run-stream");
  INFO(text(replayed.error));
  REQUIRE(replayed.status == RunStatus::kCompleted);
  CHECK(text(replayed.output) == R"({"replayed":true,"text":"streamed"})");
  CHECK(server.request_count() == 1);
}

TEST_CASE("a streamed Responses answer arrives in pieces and is the same answer", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    if (request.target != "/v1/responses" ||
        request.body.find("\"stream\":true") == std::string::npos) {
      return json_reply("{}", 400);
    }
    HttpReply reply;
    reply.headers = {{"Content-Type", "text/event-stream"}};
    reply.stream = {
        {0,
         "event: response.created\ndata: "
         "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_s\"}}\n\n"},
        {20,
         "event: response.output_text.delta\ndata: "
         "{\"type\":\"response.output_text.delta\",\"delta\":\"stre\"}\n\nevent: response.comp"},
        {20,
         "leted\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_s\","
         "\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":"
         "\"output_text\",\"text\":\"streamed\"}]}],\"usage\":{\"input_tokens\":3,"
         "\"output_tokens\":2,\"total_tokens\":5}}}\n\n"}};
    return reply;
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kResponses));
  host::RunOutcome done = ask_completed(f, "run-rstream", Json::object({{"stream", true}}));
  CHECK(text(done.output) == R"({"replayed":false,"text":"streamed","tokens":5})");
  const Json* completed = terminal_payload(f, "run-rstream", "model_completed");
  CHECK(completed->find("call")->find("response_id")->as_string() == "resp_s");
  CHECK(completed->find("call")->find("api_mode")->as_string() == "responses");
}

}  // namespace
}  // namespace artana::testing
