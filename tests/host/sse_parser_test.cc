// SseParser: Server-Sent Events as OpenAI-compatible servers stream them, fed in chunks cut
// anywhere.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sse_parser.h"

using namespace std::string_literals;
using artana::StatusCode;
using artana::io::SseEvent;
using artana::io::SseParser;

namespace {

std::vector<SseEvent> parse_all(std::string_view body, SseParser& parser) {
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(body, events).ok());
  return events;
}

std::vector<SseEvent> parse_all(std::string_view body) {
  SseParser parser;
  return parse_all(body, parser);
}

// A Chat Completions stream as servers send it: a keep-alive comment, CRLF line ends, text
// with multi-byte UTF-8, a named event, an id, a retry hint and the closing [DONE].
const std::string kStream =
    "\xEF\xBB\xBF: keep-alive\r\n\r\n"
    "retry: 1500\r\n"
    "id: 7\r\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"caf\xC3\xA9 \xE2\x82\xAC "
    "\xF0\x9F\x98\x80\"}}]}\r\n"
    "\r\n"
    "event: error\r\n"
    "data: {\"error\":{\"message\":\"overloaded\"}}\r\n"
    "\r\n"
    "data: line one\r"
    "data: line two\r"
    "\r"
    "data: [DONE]\n\n";

void check_stream_events(const std::vector<SseEvent>& events) {
  REQUIRE(events.size() == 4);
  CHECK(events[0].type == "message");
  CHECK(events[0].data ==
        "{\"choices\":[{\"delta\":{\"content\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}}]}");
  CHECK(events[0].id == "7");
  CHECK(events[1].type == "error");
  CHECK(events[1].data == "{\"error\":{\"message\":\"overloaded\"}}");
  CHECK(events[1].id == "7");  // the last id so far, as the standard keeps it
  CHECK(events[2].data == "line one\nline two");
  CHECK(events[3].data == "[DONE]");
}

}  // namespace

TEST_CASE("an event stream parses into its events: types, multi-line data, ids, retry",
          "[io][sse]") {
  SseParser parser;
  check_stream_events(parse_all(kStream, parser));
  CHECK(parser.retry_ms() == 1500);
  CHECK_FALSE(parser.has_partial());
}

TEST_CASE("an event stream cut into chunks anywhere gives the same events", "[io][sse]") {
  // Every single cut (inside the BOM, a CRLF, a UTF-8 sequence, a field name), and the
  // stream one byte at a time.
  for (size_t cut = 0; cut <= kStream.size(); ++cut) {
    INFO("cut at " << cut);
    SseParser parser;
    std::vector<SseEvent> events;
    REQUIRE(parser.feed(std::string_view(kStream).substr(0, cut), events).ok());
    REQUIRE(parser.feed(std::string_view(kStream).substr(cut), events).ok());
    check_stream_events(events);
  }
  SseParser bytewise;
  std::vector<SseEvent> events;
  for (char c : kStream) REQUIRE(bytewise.feed(std::string_view(&c, 1), events).ok());
  check_stream_events(events);
  CHECK(bytewise.retry_ms() == 1500);
}

TEST_CASE("field lines follow the standard: colons, spaces, unknown fields, empty data",
          "[io][sse]") {
  auto events = parse_all(
      "data:no space\n\n"
      "data:  two spaces\n\n"
      "data\n\n"         // a field without a colon: empty data, dispatched
      "event: ping\n\n"  // no data: nothing dispatched, the type reset
      "data: after ping\n\n"
      "foo: bar\ndata: x: y\n\n"        // unknown field ignored; later colons are data
      "id: a\0b\ndata: kept id\n\n"s);  // an id holding NUL is ignored
  REQUIRE(events.size() == 6);
  CHECK(events[0].data == "no space");
  CHECK(events[1].data == " two spaces");
  CHECK(events[2].data.empty());
  CHECK(events[3].type == "message");
  CHECK(events[3].data == "after ping");
  CHECK(events[4].data == "x: y");
  CHECK(events[5].id.empty());
}

TEST_CASE("a stream ending before its blank line leaves a partial event, not an event",
          "[io][sse]") {
  SseParser parser;
  auto events = parse_all("data: whole\n\ndata: {\"choices\":[{\"del", parser);
  REQUIRE(events.size() == 1);
  CHECK(parser.has_partial());
  SseParser fields_only;
  CHECK(parse_all("data: complete line, no blank one\n", fields_only).empty());
  CHECK(fields_only.has_partial());
  SseParser comments;
  CHECK(parse_all(": just a comment\n", comments).empty());
  CHECK_FALSE(comments.has_partial());
}

TEST_CASE("an event larger than the limit fails the stream, and it stays failed", "[io][sse]") {
  SseParser parser(64);
  std::vector<SseEvent> events;
  REQUIRE(parser.feed("data: small\n\n", events).ok());
  REQUIRE(events.size() == 1);
  // Many short lines add up: the limit is on the event, not on a line.
  std::string big;
  for (int i = 0; i < 10; ++i) big += "data: 0123456789\n";
  auto failed = parser.feed(big, events);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(failed.message(), Catch::Contains("64 bytes"));
  CHECK_FALSE(parser.feed("\n\ndata: later\n\n", events).ok());
  CHECK(events.size() == 1);
  // A line with no end at all is bounded the same way.
  SseParser endless(64);
  CHECK_FALSE(endless.feed(std::string(65, 'x'), events).ok());
}
