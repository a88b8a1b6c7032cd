// ModelStreamReader: streamed answers of both APIs, as OpenAI and the servers people run
// themselves send them, fed whole and cut at every byte.
#include <catch2/catch.hpp>

#include <string>

#include "artana/kernel/canonical_json.h"
#include "model_stream.h"

using artana::StatusCode;
using artana::io::ModelAnswer;
using artana::io::ModelStreamReader;
using artana::io::WireFormat;

namespace {

artana::Result<ModelAnswer> read_whole(WireFormat format, std::string_view body) {
  ModelStreamReader reader(format);
  artana::Status fed = reader.feed(body);
  if (!fed.ok()) return fed;
  return reader.finish();
}

// The same body fed in two pieces cut at every position gives the same answer.
void check_every_cut(WireFormat format, const std::string& body, const ModelAnswer& whole) {
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    ModelStreamReader reader(format);
    REQUIRE(reader.feed(std::string_view(body).substr(0, cut)).ok());
    REQUIRE(reader.feed(std::string_view(body).substr(cut)).ok());
    auto answer = reader.finish();
    INFO("cut at " << cut);
    REQUIRE(answer.ok());
    CHECK(answer->text == whole.text);
    CHECK(artana::kernel::canonical_json(answer->tool_calls, "calls").value() ==
          artana::kernel::canonical_json(whole.tool_calls, "calls").value());
  }
}

std::string chat_chunk(const std::string& delta, const std::string& extra = "") {
  return "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":" + delta +
         ",\"finish_reason\":" + (extra.empty() ? "null" : extra) + "}]}\n\n";
}

}  // namespace

TEST_CASE("a streamed Chat answer joins its text deltas, multi-byte text cut anywhere") {
  const std::string body =
      ": keep-alive\r\n\r\n" + chat_chunk(R"({"role":"assistant","content":"caf\u00e9 "})") +
      chat_chunk("{\"content\":\"\xE2\x82\xAC ok\"}", "\"stop\"") +
      "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":"
      "12,\"completion_tokens\":3,\"total_tokens\":15}}\n\n"
      "data: [DONE]\n\n";
  auto answer = read_whole(WireFormat::kChat, body);
  REQUIRE(answer.ok());
  CHECK(answer->text == "caf\xC3\xA9 \xE2\x82\xAC ok");
  CHECK(answer->finish_reason == "stop");
  CHECK(answer->response_id == "chatcmpl-1");
  CHECK(answer->usage.find("total_tokens")->as_integer() == 15);
  CHECK(answer->tool_calls.size() == 0);
  check_every_cut(WireFormat::kChat, body, *answer);
}

TEST_CASE("streamed Chat tool calls are joined by index, by id, and without either") {
  SECTION("OpenAI: index on every fragment, id and name on the first") {
    const std::string body =
        chat_chunk(
            R"({"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"add","arguments":""}}]})") +
        chat_chunk(
            R"({"tool_calls":[{"index":1,"id":"call_b","function":{"name":"mul","arguments":"{\"x\":"}}]})") +
        chat_chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1,"}}]})") +
        chat_chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"b\":2}"}}]})") +
        chat_chunk(R"({"tool_calls":[{"index":1,"function":{"arguments":"3}"}}]})",
                   "\"tool_calls\"") +
        "data: [DONE]\n\n";
    auto answer = read_whole(WireFormat::kChat, body);
    REQUIRE(answer.ok());
    CHECK(answer->text.empty());
    REQUIRE(answer->tool_calls.size() == 2);
    const auto& first = answer->tool_calls.as_array()[0];
    CHECK(first.find("id")->as_string() == "call_a");
    CHECK(first.find("name")->as_string() == "add");
    CHECK(first.find("arguments")->find("b")->as_integer() == 2);
    const auto& second = answer->tool_calls.as_array()[1];
    CHECK(second.find("name")->as_string() == "mul");
    CHECK(second.find("arguments")->find("x")->as_integer() == 3);
    check_every_cut(WireFormat::kChat, body, *answer);
  }
  SECTION("every call numbered 0, told apart by its id; the name repeated") {
    const std::string body =
        chat_chunk(
            R"({"tool_calls":[{"index":0,"id":"c1","function":{"name":"add","arguments":"{\"a\":1}"}}]})") +
        chat_chunk(
            R"({"tool_calls":[{"index":0,"id":"c2","function":{"name":"sub","arguments":"{\"a\":"}}]})") +
        chat_chunk(R"({"tool_calls":[{"index":0,"function":{"name":"sub","arguments":"2}"}}]})",
                   "\"tool_calls\"") +
        "data: [DONE]\n\n";
    auto answer = read_whole(WireFormat::kChat, body);
    REQUIRE(answer.ok());
    REQUIRE(answer->tool_calls.size() == 2);
    CHECK(answer->tool_calls.as_array()[1].find("name")->as_string() == "sub");
    CHECK(answer->tool_calls.as_array()[1].find("arguments")->find("a")->as_integer() == 2);
  }
  SECTION("fragments with no index: by id, else the last call; a call without id gets one") {
    const std::string body =
        chat_chunk(R"({"tool_calls":[{"function":{"name":"add","arguments":"{\"a\""}}]})") +
        chat_chunk(R"({"tool_calls":[{"function":{"arguments":":5}"}}]})") +
        chat_chunk(R"({"tool_calls":[{"id":"k2","function":{"name":"neg","arguments":"{}"}}]})",
                   "\"tool_calls\"") +
        "data: [DONE]\n\n";
    auto answer = read_whole(WireFormat::kChat, body);
    REQUIRE(answer.ok());
    REQUIRE(answer->tool_calls.size() == 2);
    CHECK(answer->tool_calls.as_array()[0].find("id")->as_string() == "call_1");
    CHECK(answer->tool_calls.as_array()[0].find("arguments")->find("a")->as_integer() == 5);
    CHECK(answer->tool_calls.as_array()[1].find("id")->as_string() == "k2");
  }
}

TEST_CASE("a Chat stream that stops early is cut short, not an answer") {
  const std::string start = chat_chunk(R"({"content":"partial"})");
  auto cut = read_whole(WireFormat::kChat, start);
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.status().code() == StatusCode::kInvalidArgument);
  CHECK(cut.status().message().find("[DONE]") != std::string::npos);
  // Mid-event: even with a finish_reason before it.
  auto mid =
      read_whole(WireFormat::kChat, chat_chunk(R"({"content":"a"})", "\"stop\"") + "data: {\"cho");
  CHECK(mid.status().code() == StatusCode::kInvalidArgument);
  // A finish_reason and a clean end without [DONE] (some servers): the answer is whole.
  auto finished = read_whole(WireFormat::kChat, chat_chunk(R"({"content":"a"})", "\"stop\""));
  REQUIRE(finished.ok());
  CHECK(finished->text == "a");
  // Not JSON.
  auto garbage = read_whole(WireFormat::kChat, "data: {nope\n\n");
  CHECK(garbage.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("an error inside a 200 stream fails the answer, transient or not by its type") {
  auto overloaded = read_whole(
      WireFormat::kChat,
      chat_chunk(R"({"content":"a"})") +
          "event: error\ndata: {\"error\":{\"message\":\"busy\",\"type\":\"server_error\"}}\n\n");
  REQUIRE_FALSE(overloaded.ok());
  CHECK(overloaded.status().code() == StatusCode::kUnavailable);
  CHECK(overloaded.status().message().find("busy (server_error)") != std::string::npos);
  auto bad = read_whole(WireFormat::kChat,
                        "data: {\"error\":{\"message\":\"context too "
                        "long\",\"type\":\"invalid_request_error\"}}\n\n");
  CHECK(bad.status().code() == StatusCode::kFailedPrecondition);
  CHECK(bad.status().message().find("context too long") != std::string::npos);
}

TEST_CASE("a streamed Responses answer is the response of response.completed") {
  const std::string completed =
      R"({"type":"response.completed","response":{"id":"resp_9","status":"completed","output":[)"
      R"({"type":"message","content":[{"type":"output_text","text":"hello"}]},)"
      R"({"type":"function_call","call_id":"fc_1","name":"add","arguments":"{\"a\":1}"}],)"
      R"("usage":{"input_tokens":20,"output_tokens":4,"total_tokens":24,"input_tokens_details":{"cached_tokens":8}}}})";
  const std::string body =
      "event: response.created\ndata: "
      "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_9\"}}\n\n"
      "event: response.output_text.delta\ndata: "
      "{\"type\":\"response.output_text.delta\",\"delta\":\"hel\"}\n\n"
      "event: response.completed\ndata: " +
      completed + "\n\n";
  auto answer = read_whole(WireFormat::kResponses, body);
  REQUIRE(answer.ok());
  CHECK(answer->text == "hello");
  CHECK(answer->response_id == "resp_9");
  CHECK(answer->usage.find("cached_tokens")->as_integer() == 8);
  REQUIRE(answer->tool_calls.size() == 1);
  CHECK(answer->tool_calls.as_array()[0].find("id")->as_string() == "fc_1");
  check_every_cut(WireFormat::kResponses, body, *answer);

  // Without response.completed: cut short.
  auto cut =
      read_whole(WireFormat::kResponses, body.substr(0, body.find("event: response.completed")));
  CHECK(cut.status().code() == StatusCode::kInvalidArgument);
  // response.failed and error events.
  auto failed = read_whole(WireFormat::kResponses,
                           "data: "
                           "{\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":"
                           "\"server_error\",\"message\":\"oops\"}}}\n\n");
  CHECK(failed.status().code() == StatusCode::kUnavailable);
  auto refused =
      read_whole(WireFormat::kResponses,
                 "event: error\ndata: "
                 "{\"type\":\"error\",\"code\":\"invalid_prompt\",\"message\":\"no\"}\n\n");
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("no (invalid_prompt)") != std::string::npos);
}
