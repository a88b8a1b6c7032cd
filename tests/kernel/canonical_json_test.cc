// Golden vectors are RFC 8785's own (§3.2.2.2, §3.2.3, §3.2.4, Appendix B) and the
// structure files of its reference test suite (cyberphone/json-canonicalization testdata).
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json.h"

namespace {

using artana::Status;
using artana::StatusCode;
using artana::kernel::append_canonical_double;
using artana::kernel::append_canonical_json;
using artana::kernel::append_canonical_string;
using artana::kernel::canonical_json;
using artana::kernel::is_valid_utf8;
using artana::kernel::jcs_key_less;
using artana::kernel::Json;
using artana::kernel::kMaxSafeInteger;

std::string jcs(const Json& value) {
  auto text = canonical_json(value);
  INFO(text.status().to_string());
  REQUIRE(text.ok());
  return *text;
}

std::string number(double value) {
  std::string out;
  const Status status = append_canonical_double(out, value, "$");
  INFO(status.to_string());
  REQUIRE(status.ok());
  return out;
}

// The error canonical_json reports for `value` named "payload".
Status failure(const Json& value) {
  auto text = canonical_json(value, "payload");
  REQUIRE_FALSE(text.ok());
  return text.status();
}

// The RFC's escaping, one character at a time: the reference the fast scanner must match.
std::string reference_quote(const std::string& s) {
  static const char* kShort[32] = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                   nullptr, "\\b",   "\\t",   "\\n",   nullptr, "\\f",   "\\r"};
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 && kShort[c] != nullptr) {
      out += kShort[c];
    } else if (c < 0x20) {
      char u[7];
      std::snprintf(u, sizeof(u), "\\u%04x", c);
      out += u;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace

TEST_CASE("numbers match the IEEE-754 table of RFC 8785 appendix B", "[json]") {
  const std::vector<std::pair<uint64_t, std::string>> vectors = {
      {0x0000000000000000, "0"},
      {0x8000000000000000, "0"},
      {0x0000000000000001, "5e-324"},
      {0x8000000000000001, "-5e-324"},
      {0x7fefffffffffffff, "1.7976931348623157e+308"},
      {0xffefffffffffffff, "-1.7976931348623157e+308"},
      {0x4340000000000000, "9007199254740992"},
      {0xc340000000000000, "-9007199254740992"},
      {0x4430000000000000, "295147905179352830000"},
      {0x44b52d02c7e14af5, "9.999999999999997e+22"},
      {0x44b52d02c7e14af6, "1e+23"},
      {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
      {0x444b1ae4d6e2ef4e, "999999999999999700000"},
      {0x444b1ae4d6e2ef4f, "999999999999999900000"},
      {0x444b1ae4d6e2ef50, "1e+21"},
      {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
      {0x3eb0c6f7a0b5ed8d, "0.000001"},
      {0x41b3de4355555553, "333333333.3333332"},
      {0x41b3de4355555554, "333333333.33333325"},
      {0x41b3de4355555555, "333333333.3333333"},
      {0x41b3de4355555556, "333333333.3333334"},
      {0x41b3de4355555557, "333333333.33333343"},
      {0xbecbf647612f3696, "-0.0000033333333333333333"},
      {0x43143ff3c1cb0959, "1424953923781206.2"},
      // Not in the table; the smallest normal double, next to its subnormal neighbour.
      {0x0010000000000000, "2.2250738585072014e-308"},
      {0x000fffffffffffff, "2.225073858507201e-308"},
  };
  for (const auto& [bits, text] : vectors) {
    INFO("bits 0x" << std::hex << bits);
    CHECK(number(std::bit_cast<double>(bits)) == text);
  }
}

TEST_CASE("numbers switch between plain, decimal and exponent forms where ECMAScript does",
          "[json]") {
  CHECK(number(1e21) == "1e+21");
  CHECK(number(1e20) == "100000000000000000000");
  CHECK(number(1e30) == "1e+30");
  CHECK(number(1.5e300) == "1.5e+300");
  CHECK(number(123456789012345680000.0) == "123456789012345680000");
  CHECK(number(1e-6) == "0.000001");
  CHECK(number(1e-7) == "1e-7");
  CHECK(number(1.5e-7) == "1.5e-7");
  CHECK(number(1e-27) == "1e-27");
  CHECK(number(0.002) == "0.002");
  CHECK(number(4.5) == "4.5");
  CHECK(number(4.50) == "4.5");
  CHECK(number(-1.5) == "-1.5");
  CHECK(number(0.1) == "0.1");
  CHECK(number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(number(333333333.33333329) == "333333333.3333333");
  CHECK(number(56.0) == "56");
  CHECK(number(-0.0) == "0");
  CHECK(number(1e16) == "10000000000000000");
  CHECK(number(123.456e-3) == "0.123456");
}

TEST_CASE("every printed double reads back as the same double", "[json]") {
  std::mt19937_64 random(8785);
  for (int i = 0; i < 100000; ++i) {
    const double value = std::bit_cast<double>(random());
    if (!std::isfinite(value)) continue;
    const std::string text = number(value);
    INFO(text);
    const double back = std::strtod(text.c_str(), nullptr);
    REQUIRE(std::bit_cast<uint64_t>(back) == std::bit_cast<uint64_t>(value == 0 ? 0.0 : value));
  }
}

TEST_CASE("nan and infinities are rejected naming the path", "[json]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const double bad : {nan, inf, -inf, std::bit_cast<double>(uint64_t{0x7fffffffffffffff}),
                           std::bit_cast<double>(uint64_t{0x7ff0000000000000})}) {
    const Status status = failure(Json::object({{"scores", Json::array({1, bad})}}));
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(status.message(), Catch::StartsWith("payload.scores[1]: number is "));
  }
  std::string out;
  const Status status = append_canonical_double(out, -inf, "step.cost");
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(status.message() == "step.cost: number is -Infinity, which JSON cannot carry");
}

TEST_CASE("integers up to 2^53 in magnitude print exactly", "[json]") {
  CHECK(jcs(Json(0)) == "0");
  CHECK(jcs(Json(-1)) == "-1");
  CHECK(jcs(Json(kMaxSafeInteger)) == "9007199254740992");
  CHECK(jcs(Json(-kMaxSafeInteger)) == "-9007199254740992");
  CHECK(jcs(Json(int64_t{9007199254740991})) == "9007199254740991");
}

TEST_CASE("integers beyond 2^53 are rejected with a hint to pass them as strings", "[json]") {
  const Status status = failure(Json::object({{"n", Json(kMaxSafeInteger + 1)}}));
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(status.message() ==
        "payload.n: integer 9007199254740993 is beyond ±2^53 and cannot be carried exactly by "
        "JSON; pass it as a string");
  for (const int64_t bad : {-kMaxSafeInteger - 1, std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min()}) {
    const Status s = failure(Json::array({Json(bad)}));
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(s.message(), Catch::StartsWith("payload[0]: integer "));
  }
}

TEST_CASE("the RFC 8785 section 3.2.4 example canonicalizes byte for byte", "[json]") {
  const Json input = Json::object({
      {"numbers",
       Json::array({333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001})},
      {"string", "\xe2\x82\xac$\x0f\nA'B\"\\\\\"/"},
      {"literals", Json::array({nullptr, true, false})},
  });
  CHECK(jcs(input) ==
        R"({"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],)"
        R"("string":")"
        "\xe2\x82\xac"
        R"($\u000f\nA'B\"\\\\\"/"})");
}

TEST_CASE("keys sort by UTF-16 code units as in RFC 8785 section 3.2.3", "[json]") {
  const Json input = Json::object({
      {"\xe2\x82\xac", "Euro Sign"},                        // U+20AC
      {"\r", "Carriage Return"},                            // U+000D
      {"\xef\xac\xb3", "Hebrew Letter Dalet With Dagesh"},  // U+FB33
      {"1", "One"},                                         // U+0031
      {"\xf0\x9f\x98\x80", "Emoji: Grinning Face"},         // U+1F600 = D83D DE00
      {"\xc2\x80", "Control"},                              // U+0080
      {"\xc3\xb6", "Latin Small Letter O With Diaeresis"},  // U+00F6
  });
  CHECK(jcs(input) ==
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
        "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
        "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
        "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST_CASE("a key above U+FFFF sorts before a key in U+E000..U+FFFF, unlike byte order", "[json]") {
  CHECK(jcs_key_less("\xf0\x90\x80\x80", "\xee\x80\x80"));  // U+10000 < U+E000
  CHECK(jcs_key_less("\xf4\x8f\xbf\xbf", "\xef\xbf\xbf"));  // U+10FFFF < U+FFFF
  CHECK(jcs_key_less("\xed\x9f\xbf", "\xf0\x90\x80\x80"));  // U+D7FF < U+10000
  CHECK_FALSE(jcs_key_less("\xee\x80\x80", "\xf0\x90\x80\x80"));
  CHECK(jcs_key_less("a", "ab"));
  CHECK_FALSE(jcs_key_less("ab", "ab"));
  CHECK(jcs_key_less("A", "a"));
  CHECK(jcs(Json::object({{"\xef\xbf\xbd", 1}, {"\xf0\x9f\x98\x80", 2}})) ==
        "{\"\xf0\x9f\x98\x80\":2,\"\xef\xbf\xbd\":1}");
}

TEST_CASE("the reference test suite's structure files canonicalize as published", "[json]") {
  // testdata/input/structures.json
  const Json structures = Json::object({
      {"1", Json::object({{"f", Json::object({{"f", "hi"}, {"F", 5}})}, {"\n", 56.0}})},
      {"10", Json::object()},
      {"", "empty"},
      {"a", Json::object()},
      {"111", Json::array({Json::object()})},
      {"A", Json::object()},
  });
  CHECK(jcs(structures) ==
        R"({"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}})");
  // testdata/input/arrays.json
  const Json arrays =
      Json::array({56, Json::object({{"d", true}, {"10", nullptr}, {"1", Json::array()}})});
  CHECK(jcs(arrays) == R"([56,{"1":[],"10":null,"d":true}])");
  // testdata/input/french.json: byte order, not the locale's collation
  const Json french = Json::object({{"peach", "This sorting order"},
                                    {"p\xc3\xa9"
                                     "ch\xc3\xa9",
                                     "is wrong according to French"},
                                    {"p\xc3\xaa"
                                     "che",
                                     "but canonicalization MUST"},
                                    {"sin", "ingnore locale"}});
  CHECK(jcs(french) ==
        "{\"peach\":\"This sorting order\",\"p\xc3\xa9"
        "ch\xc3\xa9\":\"is wrong according to "
        "French\",\"p\xc3\xaa"
        "che\":\"but canonicalization MUST\",\"sin\":\"ingnore locale\"}");
  // testdata/input/unicode.json: no normalization
  CHECK(jcs(Json::object({{"Unnormalized Unicode", "\xe1\xb8\x8d\xcc\x87"}})) ==
        "{\"Unnormalized Unicode\":\"\xe1\xb8\x8d\xcc\x87\"}");
  // testdata/input/weird.json
  const Json weird = Json::object({
      {"\xe2\x82\xac", "Euro Sign"},
      {"1", "One"},
      {"\xc2\x80", "Control\x7f"},
      {"\xf0\x9f\x98\x82", "Smiley"},
      {"\xc3\xb6", "Latin Small Letter O With Diaeresis"},
      {"\xef\xac\xb3", "Hebrew Letter Dalet With Dagesh"},
      {"</script>", "Browser Challenge"},
  });
  CHECK(jcs(weird) ==
        "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\xc2\x80\":\"Control\x7f\","
        "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
        "\"\xf0\x9f\x98\x82\":\"Smiley\",\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

TEST_CASE("nested and empty containers print with no whitespace", "[json]") {
  CHECK(jcs(Json::array()) == "[]");
  CHECK(jcs(Json::object()) == "{}");
  CHECK(jcs(Json::array({Json::array(), Json::object(), Json::array({Json::array()})})) ==
        "[[],{},[[]]]");
  CHECK(jcs(Json::object({{"b", Json::object({{"d", 1}, {"c", Json::array({true, nullptr})}})},
                          {"a", "x"}})) == R"({"a":"x","b":{"c":[true,null],"d":1}})");
  CHECK(jcs(Json()) == "null");
}

TEST_CASE("objects with many unsorted keys come out sorted", "[json]") {
  Json::Object members;
  for (int i = 99; i >= 0; --i) members.emplace_back(std::to_string(1000 + i), i);
  std::string expected = "{";
  for (int i = 0; i < 100; ++i) {
    expected += (i ? ",\"" : "\"") + std::to_string(1000 + i) + "\":" + std::to_string(i);
  }
  expected += "}";
  CHECK(jcs(Json(members)) == expected);
}

TEST_CASE("every control character is escaped, the short forms where JSON has them", "[json]") {
  const char* expected[32] = {
      "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
      "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
      "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
      "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
  for (int c = 0; c < 32; ++c) {
    CHECK(jcs(Json(std::string(1, static_cast<char>(c)))) ==
          "\"" + std::string(expected[c]) + "\"");
  }
  CHECK(jcs(Json("\"\\/\x7f")) == "\"\\\"\\\\/\x7f\"");
}

TEST_CASE("escapes land in the right place at every offset of a long string", "[json]") {
  for (size_t at = 0; at < 70; ++at) {
    for (const char* special : {"\"", "\\", "\n", "\x01", "\x7f", "\xc3\xa9", "\xf0\x9f\x98\x80"}) {
      std::string s(70, 'a');
      s.insert(at, special);
      CHECK(jcs(Json(s)) == reference_quote(s));
    }
  }
}

TEST_CASE("random strings of text, escapes and multi-byte characters match the reference",
          "[json]") {
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           " ",
                                           "~",
                                           "\"",
                                           "\\",
                                           "/",
                                           "\n",
                                           "\t",
                                           std::string(1, '\0'),
                                           "\x1f",
                                           "\x7f",
                                           "\xc3\xb6",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80",
                                           "0123456789abcdef"};
  std::mt19937 random(3);
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const size_t n = random() % 60;
    for (size_t i = 0; i < n; ++i) s += pieces[random() % pieces.size()];
    INFO(s);
    CHECK(jcs(Json(s)) == reference_quote(s));
  }
}

TEST_CASE("well-formed UTF-8 passes validation at every sequence-length boundary", "[json]") {
  for (const char* ok : {"", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
                         "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"}) {
    CHECK(is_valid_utf8(ok));
  }
  for (const char* bad :
       {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",
        "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xe2\x82",
        "\xf0\x9f\x98", "\xc3", "\xc3\x41"}) {
    CHECK_FALSE(is_valid_utf8(bad));
  }
}

TEST_CASE("invalid UTF-8 in a string value is rejected naming the path and the problem", "[json]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ab\xff", "byte that never occurs in UTF-8 at byte 2"},
      {"\xc0\xaf", "overlong encoding at byte 0"},
      {"xx\xe0\x80\xaf", "overlong encoding at byte 2"},
      {"\xed\xa0\x80", "UTF-16 surrogate encoded in UTF-8 at byte 0"},
      {"\xf4\x90\x80\x80", "code point beyond U+10FFFF at byte 0"},
      {"ok \xe2\x82", "truncated sequence at byte 3"},
      {"\x80", "unexpected continuation byte at byte 0"},
      {std::string(20, 'a') + "\xff", "byte that never occurs in UTF-8 at byte 20"},
  };
  for (const auto& [text, why] : cases) {
    Json messages = Json::array({1, 2, 3, Json::object({{"content", text}})});
    const Status status = failure(Json::object({{"messages", messages}}));
    CHECK(status.code() == StatusCode::kInvalidArgument);
    CHECK(status.message() ==
          "payload.messages[3].content: string is not valid UTF-8 (" + why + ")");
  }
  std::string out;
  const Status status = append_canonical_string(out, "\xed\xa0\x80", "step.name");
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(status.message(), Catch::StartsWith("step.name: string is not valid UTF-8"));
}

TEST_CASE("invalid UTF-8 in a key is rejected naming the key with its bad byte escaped", "[json]") {
  const Status status = failure(Json::object({{"meta", Json::object({{"a\xc0\xaf", 1}})}}));
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(status.message() ==
        "payload.meta[\"a\\xc0\\xaf\"]: key is not valid UTF-8 (overlong encoding at byte 1)");
  // Unsorted members take the sorting path; the check must hold there too.
  const Status unsorted = failure(Json::object({{"z", 1}, {"\xed\xa0\x80", 2}}));
  CHECK(unsorted.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(unsorted.message(), Catch::Contains("key is not valid UTF-8"));
}

TEST_CASE("duplicate keys are rejected naming the object and the key", "[json]") {
  const Status status = failure(Json::object(
      {{"messages",
        Json::array({Json::object({{"role", "user"}, {"content", "hi"}, {"role", "tool"}})})}}));
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK(status.message() ==
        "payload.messages[0]: duplicate key \"role\"; keys in one object must be unique");
  CHECK(failure(Json::object({{"a", 1}, {"a", 1}})).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("error paths quote keys that are not identifiers", "[json]") {
  const Status status = failure(Json::object(
      {{"weird key",
        Json::object({{"2nd", Json::object({{"ok_1", Json(kMaxSafeInteger * 2)}})}})}}));
  CHECK_THAT(status.message(), Catch::StartsWith("payload[\"weird key\"][\"2nd\"].ok_1: integer"));
}

TEST_CASE("appending keeps what the string already held", "[json]") {
  std::string out = "prefix:";
  REQUIRE(append_canonical_json(out, Json::object({{"b", 2}, {"a", 1}})).ok());
  CHECK(out == R"(prefix:{"a":1,"b":2})");
}
