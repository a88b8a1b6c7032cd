// The Chat Completions and Responses forms of a model call and of its answer.
#include <catch2/catch.hpp>

#include "artana/kernel/json_parse.h"
#include "chat_completions.h"
#include "responses_api.h"

using artana::StatusCode;
using artana::io::chat_request_body;
using artana::io::parse_chat_response;
using artana::io::parse_responses_response;
using artana::io::responses_request_body;
using artana::kernel::Json;
using artana::kernel::ModelCall;

namespace {

// A conversation in the call's one shape: a system and a user message, the assistant's tool
// call, the tool's result.
Json order_conversation() {
  return Json::array(
      {Json::object({{"role", "system"}, {"content", "Be brief."}}),
       Json::object({{"role", "user"}, {"content", "Where is order 7?"}}),
       Json::object({{"role", "assistant"},
                     {"content", ""},
                     {"tool_calls",
                      Json::array({Json::object({{"id", "c1"},
                                                 {"name", "lookup"},
                                                 {"arguments", Json::object({{"id", "7"}})}})})}}),
       Json::object({{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "shipped"}})});
}

// A request body that must have been built, parsed back.
Json parsed(const artana::Result<std::string>& text) {
  REQUIRE(text.ok());
  auto json = artana::kernel::parse_json(*text);
  REQUIRE(json.ok());
  return *json;
}

// An answer body refused with kInvalidArgument, saying `said`.
void check_refused(const artana::Result<artana::io::ModelAnswer>& parsed, std::string_view body,
                   const std::string& said) {
  INFO(body);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(parsed.status().message(), Catch::Contains(said));
}

Json body_of(const ModelCall& call, bool stream = false) {
  return parsed(chat_request_body(call, stream));
}

}  // namespace

TEST_CASE("a prompt, options, tools and a schema become a Chat Completions request", "[io][chat]") {
  ModelCall call;
  call.model = "gpt-4o-mini";
  call.prompt = "Summarise the ticket.";
  call.options = Json::object({{"temperature", 0.2}, {"max_tokens", 300}});
  call.tools = Json::array({Json::object(
      {{"name", "lookup"},
       {"description", "Find an order"},
       {"arguments",
        Json::object(
            {{"type", "object"},
             {"properties", Json::object({{"id", Json::object({{"type", "string"}})}})}})}})});
  call.output_schema = Json::object({{"type", "object"}});
  const Json body = body_of(call);
  CHECK(body.find("model")->as_string() == "gpt-4o-mini");
  CHECK(body.find("temperature")->as_double() == 0.2);
  CHECK(body.find("max_tokens")->as_integer() == 300);
  REQUIRE(body.find("messages")->size() == 1);
  CHECK(*body.find("messages") ==
        Json::array({Json::object({{"content", "Summarise the ticket."}, {"role", "user"}})}));
  const Json& tool = body.find("tools")->as_array()[0];
  CHECK(tool.find("type")->as_string() == "function");
  CHECK(tool.find("function")->find("name")->as_string() == "lookup");
  CHECK(tool.find("function")->find("parameters")->find("type")->as_string() == "object");
  const Json* format = body.find("response_format");
  REQUIRE(format != nullptr);
  CHECK(format->find("type")->as_string() == "json_schema");
  // A free-form object cannot be closed: sent as it is, not strict (strict_schema_test.cc).
  CHECK(*format->find("json_schema")->find("schema") == Json::object({{"type", "object"}}));
  CHECK_FALSE(format->find("json_schema")->find("strict")->as_bool());
  CHECK(body.find("stream") == nullptr);

  const Json streamed = body_of(call, true);
  CHECK(streamed.find("stream")->as_bool());
  CHECK(streamed.find("stream_options")->find("include_usage")->as_bool());
}

TEST_CASE("a conversation's tool calls and results take Chat's shape", "[io][chat]") {
  ModelCall call;
  call.model = "m";
  call.messages = order_conversation();
  call.prompt = "And when does it arrive?";
  const Json body = body_of(call);
  const auto& messages = body.find("messages")->as_array();
  REQUIRE(messages.size() == 5);
  const Json& calls = *messages[2].find("tool_calls");
  REQUIRE(calls.size() == 1);
  CHECK(calls.as_array()[0].find("type")->as_string() == "function");
  CHECK(calls.as_array()[0].find("function")->find("arguments")->as_string() == "{\"id\":\"7\"}");
  CHECK(messages[3].find("tool_call_id")->as_string() == "c1");
  CHECK(messages[4].find("content")->as_string() == "And when does it arrive?");
}

TEST_CASE("what cannot be sent is refused naming the field", "[io][chat]") {
  ModelCall call;
  call.model = "m";
  call.prompt = "x";
  call.options = Json::object({{"messages", Json::array()}});
  auto clash = chat_request_body(call, false);
  REQUIRE_FALSE(clash.ok());
  CHECK_THAT(clash.status().message(), Catch::Contains("options.messages"));
  call.options = Json::object();
  call.messages = Json::array({Json::object({{"content", "no role"}})});
  auto no_role = chat_request_body(call, false);
  REQUIRE_FALSE(no_role.ok());
  CHECK_THAT(no_role.status().message(), Catch::Contains("messages[1]"));
  call.messages = Json::array({Json::object(
      {{"role", "assistant"}, {"tool_calls", Json::array({Json::object({{"id", "c"}})})}})});
  auto no_name = chat_request_body(call, false);
  REQUIRE_FALSE(no_name.ok());
  CHECK_THAT(no_name.status().message(), Catch::Contains("messages[1].tool_calls[1]"));
}

TEST_CASE("a Chat Completions answer parses into text, tool calls and usage", "[io][chat]") {
  auto text = parse_chat_response(R"({
    "id": "chatcmpl-1", "object": "chat.completion",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "It ships Monday.", "refusal": null}}],
    "usage": {"prompt_tokens": 42, "completion_tokens": 5, "total_tokens": 47,
              "prompt_tokens_details": {"cached_tokens": 32},
              "completion_tokens_details": {"reasoning_tokens": 0}}})");
  REQUIRE(text.ok());
  CHECK(text->text == "It ships Monday.");
  CHECK(text->response_id == "chatcmpl-1");
  CHECK(text->finish_reason == "stop");
  CHECK_FALSE(text->refusal.has_value());
  CHECK(text->tool_calls.size() == 0);
  CHECK(text->usage == Json::object({{"prompt_tokens", 42},
                                     {"completion_tokens", 5},
                                     {"total_tokens", 47},
                                     {"cached_tokens", 32},
                                     {"reasoning_tokens", 0}}));

  auto tools = parse_chat_response(R"({"choices": [{"finish_reason": "tool_calls",
    "message": {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": "{\"id\":\"7\"}"}},
      {"type": "function", "function": {"name": "now", "arguments": ""}}]}}]})");
  REQUIRE(tools.ok());
  CHECK(tools->text.empty());
  REQUIRE(tools->tool_calls.size() == 2);
  CHECK(tools->tool_calls.as_array()[0] ==
        Json::object(
            {{"id", "call_a"}, {"name", "lookup"}, {"arguments", Json::object({{"id", "7"}})}}));
  CHECK(tools->tool_calls.as_array()[1].find("id")->as_string() == "call_2");  // none sent
  CHECK(tools->tool_calls.as_array()[1].find("arguments")->size() == 0);
  CHECK(tools->usage.size() == 0);  // none reported: the cost stays unknown

  auto refused = parse_chat_response(
      R"({"choices": [{"message": {"role": "assistant", "content": null, "refusal": "I can't."}}]})");
  REQUIRE(refused.ok());
  CHECK(refused->refusal == "I can't.");
}

TEST_CASE("a body that is not a Chat Completions answer is refused saying why", "[io][chat]") {
  auto check = [](std::string_view body, const std::string& said) {
    check_refused(parse_chat_response(body), body, said);
  };
  check("{\"choices\": [", "not a JSON object");
  check("[1]", "not a JSON object");
  check("{\"choices\": []}", "choices[1]");
  check("{\"choices\": [{\"text\": \"legacy\"}]}", "message");
  check(R"({"choices": [{"message": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]})",
        "tool_calls[1]");
  check(
      R"({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}}]})",
      "tool call 'f' has arguments that are not JSON");
}

TEST_CASE("a call becomes a Responses request: input items, flat tools, text.format, store false",
          "[io][responses]") {
  ModelCall call;
  call.model = "gpt-4.1";
  call.options = Json::object({{"max_tokens", 200}, {"temperature", 0}});
  call.messages = order_conversation();
  call.prompt = "When does it arrive?";
  call.tools = Json::array({Json::object({{"name", "lookup"}, {"description", "Find an order"}})});
  call.output_schema = Json::object({{"type", "object"}});
  const Json body = parsed(responses_request_body(call, true));
  CHECK(body.find("model")->as_string() == "gpt-4.1");
  CHECK_FALSE(body.find("store")->as_bool());
  CHECK(body.find("stream")->as_bool());
  CHECK(body.find("max_output_tokens")->as_integer() == 200);  // Responses' name for it
  CHECK(body.find("max_tokens") == nullptr);
  const auto& input = body.find("input")->as_array();
  REQUIRE(input.size() == 5);  // the empty assistant text is not an item of its own
  CHECK(input[0] == Json::object({{"content", "Be brief."}, {"role", "system"}}));
  CHECK(input[1].find("role")->as_string() == "user");
  CHECK(input[2] == Json::object({{"arguments", "{\"id\":\"7\"}"},
                                  {"call_id", "c1"},
                                  {"name", "lookup"},
                                  {"type", "function_call"}}));
  CHECK(input[3] ==
        Json::object({{"call_id", "c1"}, {"output", "shipped"}, {"type", "function_call_output"}}));
  CHECK(input[4].find("content")->as_string() == "When does it arrive?");
  const Json& tool = body.find("tools")->as_array()[0];
  CHECK(tool.find("type")->as_string() == "function");
  CHECK(tool.find("name")->as_string() == "lookup");
  CHECK(tool.find("parameters")->find("type")->as_string() == "object");
  CHECK(body.find("text")->find("format")->find("type")->as_string() == "json_schema");
  CHECK(body.find("text")->find("format")->find("strict")->is_bool());

  call.options = Json::object({{"store", true}});
  auto refused = responses_request_body(call, false);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("options.store"));
  call.options = Json::object();
  call.messages = Json::array({Json::object({{"role", "tool"}, {"content", "x"}})});
  auto orphan = responses_request_body(call, false);
  REQUIRE_FALSE(orphan.ok());
  CHECK_THAT(orphan.status().message(), Catch::Contains("tool_call_id"));
}

TEST_CASE("a Responses answer parses into the one shape, usage in Chat's names",
          "[io][responses]") {
  auto answer = parse_responses_response(R"({
    "id": "resp_1", "object": "response", "status": "completed",
    "output": [
      {"type": "reasoning", "summary": []},
      {"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": "It ships ", "annotations": []},
        {"type": "output_text", "text": "Monday.", "annotations": []}]},
      {"type": "function_call", "call_id": "call_9", "name": "lookup", "arguments": "{\"id\":\"7\"}"}],
    "usage": {"input_tokens": 40, "output_tokens": 9, "total_tokens": 49,
              "input_tokens_details": {"cached_tokens": 8},
              "output_tokens_details": {"reasoning_tokens": 3}}})");
  REQUIRE(answer.ok());
  CHECK(answer->response_id == "resp_1");
  CHECK(answer->finish_reason == "completed");
  CHECK(answer->text == "It ships Monday.");
  REQUIRE(answer->tool_calls.size() == 1);
  CHECK(answer->tool_calls.as_array()[0] ==
        Json::object(
            {{"id", "call_9"}, {"name", "lookup"}, {"arguments", Json::object({{"id", "7"}})}}));
  CHECK(answer->usage == Json::object({{"prompt_tokens", 40},
                                       {"completion_tokens", 9},
                                       {"total_tokens", 49},
                                       {"cached_tokens", 8},
                                       {"reasoning_tokens", 3}}));
  auto refused = parse_responses_response(
      R"({"output": [{"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}]})");
  REQUIRE(refused.ok());
  CHECK(refused->refusal == "No.");
  CHECK(refused->usage.size() == 0);

  auto bad = [](std::string_view body, const std::string& said) {
    check_refused(parse_responses_response(body), body, said);
  };
  bad("not json", "not a JSON object");
  bad("{\"choices\": []}", "no `output` array");
  bad(R"({"output": [{"type": "function_call", "arguments": "{}"}]})", "output[1]");
  bad(R"({"output": [{"type": "function_call", "name": "f", "arguments": "[1,"}]})",
      "tool call 'f' has arguments that are not JSON");
}
