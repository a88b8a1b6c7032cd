#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"

using artana::StatusCode;
using artana::kernel::canonical_json;
using artana::kernel::Json;
using artana::kernel::parse_json;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// The message of a parse that must fail as the caller's fault.
std::string error_of(std::string_view text, std::string_view source = "events/run-1#4") {
  auto result = parse_json(text, source);
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.status().code() == StatusCode::kInvalidArgument);
  return result.status().message();
}

Json parsed(std::string_view text) {
  auto result = parse_json(text, "test");
  INFO(result.status().to_string());
  REQUIRE(result.ok());
  return std::move(result).value();
}

std::string nested(int depth, std::string_view open, std::string_view leaf,
                   std::string_view close) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += open;
  text += leaf;
  for (int i = 0; i < depth; ++i) text += close;
  return text;
}

}  // namespace

TEST_CASE("parsed JSON keeps every type, value and member order", "[json]") {
  Json j = parsed(R"( {"n": null, "t": true, "f": false, "i": -42, "d": 2.5,
      "s": "h\u00e9\"llo\n\u0000!", "e": "", "a": [1, [], {}], "o": {"z": 1, "a": "2"}} )");
  REQUIRE(j.is_object());
  REQUIRE(j.size() == 9);
  REQUIRE(j.find("n")->is_null());
  REQUIRE(j.find("t")->as_bool() == true);
  REQUIRE(j.find("f")->as_bool() == false);
  REQUIRE(j.find("i")->as_integer() == -42);
  REQUIRE(j.find("d")->as_double() == 2.5);
  REQUIRE(j.find("s")->as_string() == std::string("h\xc3\xa9\"llo\n\0!", 10));
  REQUIRE(j.find("e")->as_string().empty());
  const Json::Array& a = j.find("a")->as_array();
  REQUIRE(a.size() == 3);
  REQUIRE(a[0].as_integer() == 1);
  REQUIRE((a[1].is_array() && a[1].size() == 0));
  REQUIRE((a[2].is_object() && a[2].size() == 0));
  const Json::Object& o = j.find("o")->as_object();
  REQUIRE(o[0].first == "z");
  REQUIRE(o[1].first == "a");
  REQUIRE(o[1].second.as_string() == "2");
  REQUIRE(j.as_object()[0].first == "n");  // document order, not sorted

  REQUIRE(parsed("null").is_null());
  REQUIRE(parsed(" true ").as_bool());
  REQUIRE(parsed("\"x\"").as_string() == "x");
  REQUIRE(parsed("7").as_integer() == 7);
}

TEST_CASE("integers stay integers and a fraction or exponent makes a double", "[json]") {
  REQUIRE(parsed("1").is_integer());
  REQUIRE(parsed("1.0").is_double());
  REQUIRE(parsed("1.0").as_double() == 1.0);
  REQUIRE(parsed("1e2").is_double());
  REQUIRE(parsed("1e2").as_double() == 100.0);
  REQUIRE(parsed("1E-2").as_double() == 0.01);
  Json minus_zero = parsed("-0");
  REQUIRE(minus_zero.is_integer());  // no fraction or exponent: Lua reads -0 as integer 0
  REQUIRE(minus_zero.as_integer() == 0);
  Json minus_zero_double = parsed("-0.0");
  REQUIRE(minus_zero_double.is_double());
  REQUIRE(std::signbit(minus_zero_double.as_double()));
  REQUIRE(parsed("1e-400").as_double() == 0.0);  // underflow rounds to 0, as simdjson does
}

TEST_CASE("integers up to 2^53 parse and one beyond is rejected naming its path", "[json]") {
  REQUIRE(parsed("9007199254740992").as_integer() == 9007199254740992);
  REQUIRE(parsed("-9007199254740992").as_integer() == -9007199254740992);

  std::string message = error_of(R"({"a": {"b": [0, 9007199254740993]}})");
  REQUIRE_THAT(message, StartsWith("events/run-1#4: "));
  REQUIRE_THAT(message, Contains("9007199254740993 at $.a.b[1]"));
  REQUIRE_THAT(message, Contains("2^53"));
  REQUIRE_THAT(message, Contains("pass it as a string"));

  REQUIRE_THAT(error_of("-9007199254740993"), Contains("-9007199254740993 at $ "));
  REQUIRE_THAT(error_of("[-9223372036854775808]"), Contains("at $[0]"));
  // Above INT64_MAX simdjson yields uint64; still an integer, still refused.
  REQUIRE_THAT(error_of(R"({"u": 18446744073709551615})"), Contains("18446744073709551615 at $.u"));
}

TEST_CASE("an integral double beyond 2^53 reads back from the text canonical JSON writes for it",
          "[json]") {
  // RFC 8785 writes an integral double below 1e21 with all its digits; the reader must read
  // back what the writer writes (a recorded `run:now() * 1e9` once made its run unreadable).
  const double doubles[] = {1152921504606846976.0,  // 2^60
                            -1152921504606846976.0,
                            9007199254740994.0,  // 2^53 + 2
                            1796360726643481000.0,
                            18446744073709551616.0,  // 2^64: beyond uint64
                            1e20,
                            -1e20,
                            999999999999999868928.0};  // the largest double below 1e21
  for (double d : doubles) {
    auto text = canonical_json(Json::object({{"v", d}}));
    REQUIRE(text.ok());
    INFO(*text);
    REQUIRE(text->find_first_of(".e") == std::string::npos);  // written with all its digits
    Json back = parsed(*text);
    REQUIRE(back.find("v")->type() == Json::Type::kDouble);
    REQUIRE(back.find("v")->as_double() == d);
    auto again = canonical_json(back);
    REQUIRE(again.ok());
    REQUIRE(*again == *text);
  }
  // Integers that are not how a double is written stay refused, whatever their size.
  REQUIRE_THAT(error_of("[9007199254740993]"), Contains("9007199254740993 at $[0]"));
  REQUIRE_THAT(error_of("1152921504606846976"), Contains("beyond"));
  REQUIRE_THAT(error_of("[100000000000000000001]"), Contains("too large to be represented"));
}

TEST_CASE("a number too large to represent is rejected with its offset and path", "[json]") {
  std::string text = R"({"x": [1, 123456789012345678901234567890]})";
  std::string message = error_of(text);
  REQUIRE_THAT(message, StartsWith("events/run-1#4: "));
  REQUIRE_THAT(message, Contains("123456789012345678901234567890"));
  REQUIRE_THAT(message, Contains("too large to be represented"));
  REQUIRE_THAT(message, Contains(fmt::format("at byte {} ($.x[1])", text.find("1234"))));

  REQUIRE_THAT(error_of(R"([0, {"big": -1e400}])"),
               Contains("-1e400 at byte 12 ($[1].big) is too large to be represented as a double"));
  // The first bad literal is named even when an earlier one merely underflows.
  REQUIRE_THAT(error_of("[1e-400, 1e400]"), Contains("1e400 at byte 9 ($[1])"));
}

TEST_CASE("a malformed number is rejected naming the literal and its path", "[json]") {
  REQUIRE_THAT(error_of(R"({"a": 01})"), Contains("malformed number 01 at byte 6 ($.a)"));
  REQUIRE_THAT(error_of(R"({"k\"ey": [7, 1.]})"), Contains(R"(1. at byte 14 ($["k\"ey"][1]))"));
  REQUIRE_THAT(error_of("[1x]"), Contains("malformed number 1x"));
  REQUIRE_THAT(error_of("-"), Contains("malformed number - at byte 0 ($)"));
}

TEST_CASE("a duplicate key is rejected naming the object's path and the key", "[json]") {
  std::string message = error_of(R"({"a": {"b": {"c": 1, "d": 2, "c": 3}}})");
  REQUIRE_THAT(message, StartsWith("events/run-1#4: "));
  REQUIRE_THAT(message, Contains(R"(duplicate key "c" in the object at $.a.b)"));

  // Large objects take the sorting path; the error reads the same.
  std::string big = R"({"a": {)";
  for (int i = 0; i < 100; ++i) big += fmt::format(R"("k{}": {}, )", i, i);
  big += R"("k57": 0}})";
  REQUIRE_THAT(error_of(big), Contains(R"(duplicate key "k57" in the object at $.a)"));
  REQUIRE(parsed(big.substr(0, big.rfind(R"("k57")")) + R"("k100": 0}})").find("a")->size() == 101);

  // The same key in different objects is fine.
  REQUIRE(parsed(R"({"a": {"a": 1}, "l": [{"a": 1}, {"a": 2}]})").size() == 2);
}

TEST_CASE("an error deep in nested arrays and objects names the full path", "[json]") {
  REQUIRE_THAT(error_of(R"({"items": [{"x": 1}, {"x": 2}, {"x": 9007199254740993}]})"),
               Contains("at $.items[2].x "));
  REQUIRE_THAT(error_of(R"([[0], [1, [2, 3, {"y": [9007199254740993]}]]])"),
               Contains("at $[1][1][2].y[0] "));
}

TEST_CASE("keys that are not identifiers are quoted in error paths", "[json]") {
  REQUIRE_THAT(error_of(R"({"weird key": {"a\"b": [9007199254740993]}})"),
               Contains(R"(at $["weird key"]["a\"b"][0] )"));
  REQUIRE_THAT(error_of(R"({"1a": {"_ok9": 9007199254740993}})"), Contains(R"(at $["1a"]._ok9 )"));
  std::string long_key(100, '-');
  REQUIRE_THAT(error_of(fmt::format(R"({{"{}": 9007199254740993}})", long_key)),
               Contains(fmt::format(R"($["{}…"])", long_key.substr(0, 64))));
}

TEST_CASE("invalid UTF-8 is rejected naming the source", "[json]") {
  REQUIRE_THAT(error_of("\"\xff\"", "model response"), StartsWith("model response: "));
  REQUIRE_THAT(error_of("\"\xff\"", "model response"), Contains("UTF-8"));
  REQUIRE_THAT(error_of("{\"\xc3\x28\": 1}"), Contains("UTF-8"));
  REQUIRE_THAT(error_of("[\"\xed\xa0\x80\"]"), Contains("UTF-8"));  // an encoded surrogate
}

TEST_CASE("empty, truncated and trailing-garbage documents are rejected naming the source",
          "[json]") {
  REQUIRE_THAT(error_of(""), Contains("events/run-1#4: no JSON value"));
  REQUIRE_THAT(error_of(" \n\t"), Contains("empty"));
  for (std::string_view text :
       {"[1,2", "{\"a\":", "{\"a\": 1", "\"abc", "{} x", "[1]]", "1 2", "tru", "[1,]", "{'a':1}"}) {
    INFO(text);
    REQUIRE_THAT(error_of(text), StartsWith("events/run-1#4: "));
  }
  REQUIRE_THAT(error_of("[1, 2"), Contains("truncated"));
}

TEST_CASE("text followed by more bytes in the caller's buffer parses only up to its end",
          "[json]") {
  std::string buffer = R"(xx{"a": [1, 2]}{"b": 3}yy)";
  std::string_view view(buffer.data() + 2, 13);
  Json j = parsed(view);
  REQUIRE(j.find("a")->size() == 2);
  REQUIRE(j.find("b") == nullptr);

  std::string digits = "1234567";
  REQUIRE(parsed(std::string_view(digits).substr(0, 3)).as_integer() == 123);
  std::string word = "[true]";
  REQUIRE_THAT(error_of(std::string_view(word).substr(1, 3)), Contains("atom"));  // "tru"
}

TEST_CASE("text ending exactly at the end of a read-only mapping parses without over-reading",
          "[json]") {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (std::string doc :
       {std::string(R"({"k": [1, 2.5, "s"]})"), std::string("12345"), std::string("\"end\"")}) {
    void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(map != MAP_FAILED);
    char* base = static_cast<char*>(map);
    // A guard page right after the text: any read past its end faults.
    REQUIRE(mprotect(base + page, page, PROT_NONE) == 0);
    char* start = base + page - doc.size();
    std::memcpy(start, doc.data(), doc.size());
    REQUIRE(mprotect(base, page, PROT_READ) == 0);  // read-only, like an LMDB map
    auto result = parse_json(std::string_view(start, doc.size()), "mmap");
    munmap(map, 2 * page);
    INFO(doc);
    REQUIRE(result.ok());
    REQUIRE(*result == parsed(doc));
  }
}

TEST_CASE("a document nested 2000 deep is rejected as too deep instead of crashing", "[json]") {
  REQUIRE_THAT(error_of(nested(2000, "[", "", "]")), Contains("nested more than 1024 levels deep"));
  REQUIRE_THAT(error_of(nested(2000, R"({"a":)", "1", "}")),
               Contains("nested more than 1024 levels deep"));
  // 1023 arrays around a number are 1024 levels: within the limit, and convert fine.
  Json deep = parsed(nested(1023, "[", "7", "]"));
  const Json* at = &deep;
  for (int i = 0; i < 1023; ++i) at = &at->as_array()[0];
  REQUIRE(at->as_integer() == 7);
}

TEST_CASE("results survive later parses, failed ones and large ones on the same thread", "[json]") {
  Json first = parsed(R"({"s": "first", "n": [1, 2, 3]})");
  REQUIRE_THAT(error_of("[1, 2"), Contains("truncated"));
  // Over 1 MiB: the thread's parser and buffer are released afterwards.
  std::string large = "[";
  for (int i = 0; i < 200000; ++i) large += fmt::format("{}\"item {}\"", i == 0 ? "" : ",", i);
  large += "]";
  REQUIRE(large.size() > (size_t{1} << 20));
  Json big = parsed(large);
  REQUIRE(big.size() == 200000);
  REQUIRE(big.as_array()[199999].as_string() == "item 199999");
  Json after = parsed(R"({"s": "after"})");
  REQUIRE(first.find("s")->as_string() == "first");
  REQUIRE(first.find("n")->size() == 3);
  REQUIRE(after.find("s")->as_string() == "after");
}

TEST_CASE("parsing on several threads at once gives each thread its own results", "[json]") {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 300; ++i) {
        std::string text = fmt::format(R"({{"thread": {}, "i": [{}, "{}"]}})", t, i, i);
        auto result = parse_json(text, "thread");
        if (!result.ok() || result->find("thread")->as_integer() != t ||
            result->find("i")->as_array()[0].as_integer() != i) {
          ++wrong;
        }
        if (parse_json("[1, {\"a\": 1, \"a\": 2}]", "thread").ok()) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  REQUIRE(wrong == 0);
}
