// The PII scanner: e-mail addresses, API keys, and what must never match (numbers, card and
// phone shapes: pii_numbers_test.cc).
#include <catch2/catch.hpp>

#include <cctype>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "middleware/pii_scanner.h"
#include "support/pii_cases.h"

using artana::kernel::find_pii;
using artana::kernel::pii_type_label;
using artana::kernel::PiiSpan;
using artana::kernel::PiiType;
using namespace artana::testing;

TEST_CASE("pii type labels are the placeholder names", "[kernel][pii]") {
  CHECK(pii_type_label(PiiType::kEmail) == "EMAIL");
  CHECK(pii_type_label(PiiType::kPhone) == "PHONE");
  CHECK(pii_type_label(PiiType::kSsn) == "SSN");
  CHECK(pii_type_label(PiiType::kCard) == "CARD");
  CHECK(pii_type_label(PiiType::kApiKey) == "API_KEY");
}

TEST_CASE("an empty or ordinary text has no pii", "[kernel][pii]") {
  CHECK(find_pii("").empty());
  check_negatives({"hello world", "The quick brown fox jumps over the lazy dog.", "@", "+", "(",
                   "a", "1", "sk-", "AKIA", "x@", "@y.com", "..@..", "(((", "+++1"});
}

TEST_CASE("e-mail addresses are found whole, without a sentence's final period", "[kernel][pii]") {
  check_positives({
      {"write to john.doe@example.com today", "EMAIL:john.doe@example.com"},
      {"Mail jane+tag@mail.example.co.uk.", "EMAIL:jane+tag@mail.example.co.uk"},
      {"<a_b%c-d@sub-domain.example.org>", "EMAIL:a_b%c-d@sub-domain.example.org"},
      {"contact:X@Y.IO", "EMAIL:X@Y.IO"},
      {"see ...bob@example.com", "EMAIL:bob@example.com"},
      {"bob@example.com", "EMAIL:bob@example.com"},
      {"(bob@example.com), next", "EMAIL:bob@example.com"},
      {"bob@example.com-", "EMAIL:bob@example.com"},
      {"42@example.com", "EMAIL:42@example.com"},
  });
}

TEST_CASE("strings that only look like e-mail addresses are not reported", "[kernel][pii]") {
  check_negatives({
      "john@localhost",                       // no dot in the domain
      "user@example.c",                       // one-letter TLD
      "user@example.c0m",                     // TLD with a digit
      "price@10.50",                          // numeric "TLD"
      "user@10.0.0.1",                        // IP address
      "john.@example.com",                    // local part ends with '.'
      "john..doe@example.com",                // empty dot-atom
      "user@-example.com",                    // label starts with '-'
      "user@example-.com",                    // label ends with '-'
      "user@example..com",                    // empty label
      "@alice@mastodon.social",               // a fediverse handle
      "user@example.com_backup",              // runs on into an identifier
      "@Override",                            // an annotation
      "npm i @scope/pkg@1.2.3",               // a package version
      std::string(65, 'a') + "@example.com",  // local part over 64 bytes
  });
}

TEST_CASE("api keys with a vendor prefix are found", "[kernel][pii]") {
  check_positives({
      {"key sk-abcdefghij0123456789 here", "API_KEY:sk-abcdefghij0123456789"},
      {"OPENAI_API_KEY=sk-proj-5UBBBpiA84YrNbuBhOwc8fjOWOrOwd8S7Ba16j7p",
       "API_KEY:sk-proj-5UBBBpiA84YrNbuBhOwc8fjOWOrOwd8S7Ba16j7p"},
      {"\"sk-ant-api03-Ik2zwEQHfwcepYyNGfB51Ybmw_xAscRuzOl8G-AA\"",
       "API_KEY:sk-ant-api03-Ik2zwEQHfwcepYyNGfB51Ybmw_xAscRuzOl8G-AA"},
      {"aws AKIAIOSFODNN7EXAMPLE.", "API_KEY:AKIAIOSFODNN7EXAMPLE"},
      {"AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
       "API_KEY:AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"},
      {"token: ghp_Ik2zwEQHfwcepYyNGfB51YbmwxAscRuzOl8G",
       "API_KEY:ghp_Ik2zwEQHfwcepYyNGfB51YbmwxAscRuzOl8G"},
      {"gho_Ik2zwEQHfwcepYyNGfB51Y", "API_KEY:gho_Ik2zwEQHfwcepYyNGfB51Y"},
      {"ghs_Ik2zwEQHfwcepYyNGfB51Y", "API_KEY:ghs_Ik2zwEQHfwcepYyNGfB51Y"},
      {"ghu_Ik2zwEQHfwcepYyNGfB51Y", "API_KEY:ghu_Ik2zwEQHfwcepYyNGfB51Y"},
      {"github_pat_11ABCDEFG0123456789_abcdefghij",
       "API_KEY:github_pat_11ABCDEFG0123456789_abcdefghij"},
      {"xoxb-1234567890-abcdefghij", "API_KEY:xoxb-1234567890-abcdefghij"},
      {"xoxp-1234567890", "API_KEY:xoxp-1234567890"},
      {"xoxa-2-abcdefghij", "API_KEY:xoxa-2-abcdefghij"},
      {"xoxr-abcdefghij", "API_KEY:xoxr-abcdefghij"},
      {"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "API_KEY:sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
      {"rk_live_4eC39HqLyjWDarjtT1zdp7dc", "API_KEY:rk_live_4eC39HqLyjWDarjtT1zdp7dc"},
  });
}

TEST_CASE("short, unprefixed or embedded key-like tokens are not api keys", "[kernel][pii]") {
  check_negatives({
      "sk-short",
      "sk-abcdefghij012345678",                    // 19 after the prefix
      "task-abcdefghijklmnopqrstuvwxyz",           // prefix inside a word
      "xsk-abcdefghijklmnopqrstuvwxyz",            // prefix inside a word
      "my_sk-abcdefghij0123456789",                // prefix inside an identifier
      "AKIA1234",                                  // too short
      "AKIAIOSFODNN7EXAMPLEX",                     // too long
      "AKIAiosfodnn7example",                      // lower case
      "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsH",    // 34 after the prefix
      "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHIx",  // 36 after the prefix
      "ghp_short",
      "ghx_Ik2zwEQHfwcepYyNGfB51YbmwxAscRuzOl8G",  // not a GitHub prefix
      "xoxb-123",
      "xoxz-1234567890",
      "xoxb-1234567890_abc",  // runs on into an identifier
      "sk_live_short",
      "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  // test keys are not listed
      "Ask-abcdefghij0123456789",
  });
}

TEST_CASE("hashes, uuids, timestamps, versions and plain numbers are not pii", "[kernel][pii]") {
  check_negatives({
      kSha256,
      "sha256:" + kSha256,
      "1234567890123456789012345678901234567890123456789012345678901234",  // all-digit "hash"
      "123e4567-e89b-12d3-a456-426614174000",
      "550e8400-e29b-41d4-a716-446655440000",
      "12345678-1234-1234-1234-123456789012",
      "2026-11-24T10:00:00Z",
      "2026-11-24 10:00:00",
      "2026-11-24T10:00:00.123+01:00",
      "at 10:00:00 on 24/11/2026",
      "1.2.3",
      "v10.15.7",
      "version 415.555.0132.1",
      "1234567890",
      "the total was 1,234,567,890.00",
      "IP 192.168.100.200",
      "call me maybe, said Sam; xoxo",
  });
}

TEST_CASE("several spans in one text come back in order with exact byte offsets", "[kernel][pii]") {
  const std::string text =
      "Email a.b@example.com or call 415-555-0132; SSN 123-45-6789, card 4111 1111 1111 1111, "
      "key AKIAIOSFODNN7EXAMPLE.";
  const std::vector<PiiSpan> spans = find_pii(text);
  REQUIRE(spans.size() == 5);
  const std::vector<std::tuple<size_t, size_t, PiiType>> expected = {{6, 21, PiiType::kEmail},
                                                                     {30, 42, PiiType::kPhone},
                                                                     {48, 59, PiiType::kSsn},
                                                                     {66, 85, PiiType::kCard},
                                                                     {91, 111, PiiType::kApiKey}};
  for (size_t k = 0; k < spans.size(); ++k) {
    CAPTURE(k);
    CHECK(spans[k].begin == std::get<0>(expected[k]));
    CHECK(spans[k].end == std::get<1>(expected[k]));
    CHECK(spans[k].type == std::get<2>(expected[k]));
  }
}

TEST_CASE("utf-8 text around a match is a boundary and never part of it", "[kernel][pii]") {
  const std::string text =
      "Écrivez à marie@example.fr — merci. 電話: +81 3-1234-5678。カード4111111111111111です";
  const std::vector<PiiSpan> spans = find_pii(text);
  REQUIRE(spans.size() == 3);
  CHECK((spans[0].begin == 12 && spans[0].end == 28 && spans[0].type == PiiType::kEmail));
  CHECK((spans[1].begin == 48 && spans[1].end == 63 && spans[1].type == PiiType::kPhone));
  CHECK((spans[2].begin == 75 && spans[2].end == 91 && spans[2].type == PiiType::kCard));
  // A non-ASCII letter in a local part is not ASCII PII: nothing is half-matched.
  check_negatives({"rené@example.com", "bob@exämple.com"});
}

TEST_CASE("placeholders already in the text are never pii", "[kernel][pii]") {
  check_negatives({
      "[EMAIL_1] wrote to [PHONE_2] about [CARD_3], [SSN_4] and [API_KEY_5]",
      "[PHONE_4155550132] [CARD_4111111111111111] [SSN_123-45-6789]",
      "[EMAIL_1]@example.com",
  });
  CHECK(found("[EMAIL_1] and bob@example.com") ==
        std::vector<std::string>{"EMAIL:bob@example.com"});
}

TEST_CASE("an e-mail address wins over a number or key inside it", "[kernel][pii]") {
  CHECK(found("415-555-0132@example.com") ==
        std::vector<std::string>{"EMAIL:415-555-0132@example.com"});
  CHECK(found("x 123-45-6789.ops@example.com") ==
        std::vector<std::string>{"EMAIL:123-45-6789.ops@example.com"});
  CHECK(found("sk-abcdefghij0123456789@example.com") ==
        std::vector<std::string>{"EMAIL:sk-abcdefghij0123456789@example.com"});
}

TEST_CASE("a match is found the same wherever it sits in a longer text", "[kernel][pii]") {
  // The scan takes 16 bytes at a time, then byte by byte near the end: every alignment counts.
  const std::vector<Positive> cases = {
      {"bob@example.com", "EMAIL:bob@example.com"},
      {"+1 (415) 555-0132", "PHONE:+1 (415) 555-0132"},
      {"(415) 555-0132", "PHONE:(415) 555-0132"},
      {"123-45-6789", "SSN:123-45-6789"},
      {"4111 1111 1111 1111", "CARD:4111 1111 1111 1111"},
      {"sk-abcdefghij0123456789", "API_KEY:sk-abcdefghij0123456789"},
      {"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "API_KEY:sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
      {"rk_live_4eC39HqLyjWDarjtT1zdp7dc", "API_KEY:rk_live_4eC39HqLyjWDarjtT1zdp7dc"},
      {"AKIAIOSFODNN7EXAMPLE", "API_KEY:AKIAIOSFODNN7EXAMPLE"},
      {"ghp_Ik2zwEQHfwcepYyNGfB51Y", "API_KEY:ghp_Ik2zwEQHfwcepYyNGfB51Y"},
      {"xoxb-1234567890", "API_KEY:xoxb-1234567890"},
      {"tel:415-555-0132", "PHONE:415-555-0132"},
      {"/users/4111111111111111", "CARD:4111111111111111"},
      {"-123-45-6789", "SSN:123-45-6789"},
  };
  // And shapes refused by their context are refused at any alignment as well.
  const std::vector<std::string> negatives = {
      "2026-11-24T10:00:00Z",     "v1.415.555.0132",       "REF-415-555-0132", "10:415-555-0132",
      "2026/4111111111111111",    "1.4111111111111111",    "x+14155550132",    "f(415) 555-0132",
      "Ask-abcdefghij0123456789", "xAKIAIOSFODNN7EXAMPLE", "4111111111111112"};
  for (const std::string& text : negatives) {
    for (size_t pad = 0; pad < 40; ++pad) {
      const std::string padded = std::string(pad, 'w') + " " + text + " " + std::string(pad, 'w');
      CAPTURE(padded);
      REQUIRE(found(padded).empty());
    }
  }
  for (const Positive& c : cases) {
    for (size_t pad = 0; pad < 40; ++pad) {
      const std::string text = std::string(pad, 'w') + " " + c.text + " " + std::string(pad, 'w');
      CAPTURE(text);
      REQUIRE(found(text) == std::vector<std::string>{c.match});
      // Glued to a word on the left, it is not a match at any alignment either (an address
      // just takes the word into its local part).
      const std::string glued = std::string(pad + 1, 'w') + c.text;
      const bool whole = c.match.substr(c.match.find(':') + 1) == c.text;
      if (whole && is_word(c.text[0]) && c.match.rfind("EMAIL:", 0) != 0) {
        CAPTURE(glued);
        REQUIRE(found(glued).empty());
      }
    }
  }
}

TEST_CASE("spans are ordered, disjoint, in range and found again on their own", "[kernel][pii]") {
  // Letters, digits and punctuation, with fragments of each shape mixed in so that random
  // text reaches deep into the matchers instead of failing on their first byte.
  const std::string bytes = "abcsxgrAKIzZ_0123456789@.-+() :/%,;";
  const std::vector<std::string> fragments = {"4111",
                                              "1111",
                                              "0005",
                                              "3782",
                                              "822463",
                                              "415",
                                              "555",
                                              "0132",
                                              "123",
                                              "45",
                                              "6789",
                                              "+1 ",
                                              "+44 ",
                                              "(0)",
                                              "1-",
                                              "bob",
                                              "@example.com",
                                              "a.b",
                                              ".co",
                                              "sk-",
                                              "sk-ant-",
                                              "AKIA",
                                              "AIza",
                                              "ghp_",
                                              "github_pat_",
                                              "xoxb-",
                                              "sk_live_",
                                              "rk_live_",
                                              "abcdefghij0123456789",
                                              "ABCDEFGHIJ0123456789",
                                              "[EMAIL_1]",
                                              "\xc3\xa9",
                                              "  "};
  std::mt19937 rng(20261124);
  std::uniform_int_distribution<size_t> length(0, 300);
  std::uniform_int_distribution<size_t> pick_byte(0, bytes.size() - 1);
  std::uniform_int_distribution<size_t> pick_fragment(0, fragments.size() - 1);
  std::bernoulli_distribution use_fragment(0.6);
  size_t total_spans = 0;
  for (int n = 0; n < 200; ++n) {
    const size_t size = length(rng);
    std::string text;
    while (text.size() < size) {
      if (use_fragment(rng)) {
        text += fragments[pick_fragment(rng)];
      } else {
        text += bytes[pick_byte(rng)];
      }
    }
    text.resize(size);
    CAPTURE(text);
    const std::vector<PiiSpan> spans = find_pii(text);
    size_t prev_end = 0;
    for (const PiiSpan& s : spans) {
      REQUIRE(s.begin >= prev_end);
      REQUIRE(s.begin < s.end);
      REQUIRE(s.end <= text.size());
      prev_end = s.end;
      for (size_t k = s.begin; k < s.end; ++k) REQUIRE(static_cast<unsigned char>(text[k]) < 0x80);
      const std::string alone = text.substr(s.begin, s.end - s.begin);
      CAPTURE(alone);
      const std::vector<PiiSpan> again = find_pii(alone);
      REQUIRE(again.size() == 1);
      CHECK((again[0].begin == 0 && again[0].end == alone.size() && again[0].type == s.type));
    }
    total_spans += spans.size();
    // Shifting the text shifts every span and nothing else, whichever bytes the scan then
    // takes sixteen at a time.
    for (size_t shift = 1; shift <= 17; ++shift) {
      const std::vector<PiiSpan> shifted = find_pii(std::string(shift, ' ') + text);
      REQUIRE(shifted.size() == spans.size());
      for (size_t k = 0; k < spans.size(); ++k) {
        CHECK((shifted[k].begin == spans[k].begin + shift &&
               shifted[k].end == spans[k].end + shift && shifted[k].type == spans[k].type));
      }
    }
  }
  WARN("random texts produced " << total_spans << " spans");
  CHECK(total_spans > 20);  // the mix really exercises the matchers
}
