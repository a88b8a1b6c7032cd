// The PII scanner's number shapes: phone numbers, US SSNs, payment cards.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "middleware/pii_scanner.h"
#include "support/pii_cases.h"

using namespace artana::testing;

TEST_CASE("international and north american phone numbers are found", "[kernel][pii]") {
  check_positives({
      {"call +1 415-555-0132 now", "PHONE:+1 415-555-0132"},
      {"+44 20 7946 0958", "PHONE:+44 20 7946 0958"},
      {"tel:+14155550132", "PHONE:+14155550132"},
      {"+1 (415) 555-0132", "PHONE:+1 (415) 555-0132"},
      {"+1(415)555-0132", "PHONE:+1(415)555-0132"},
      {"+44 (0)20 7946 0958", "PHONE:+44 (0)20 7946 0958"},
      {"+33 1 23 45 67 89", "PHONE:+33 1 23 45 67 89"},
      {"+49.30.1234567", "PHONE:+49.30.1234567"},
      {"(415) 555-0132", "PHONE:(415) 555-0132"},
      {"(415)555-0132", "PHONE:(415)555-0132"},
      {"call 415-555-0132.", "PHONE:415-555-0132"},
      {"415.555.0132", "PHONE:415.555.0132"},
      {"415 555 0132", "PHONE:415 555 0132"},
      {"415 555-0132", "PHONE:415 555-0132"},
      {"1-800-555-0199", "PHONE:1-800-555-0199"},
      {"Phone: 415-555-0132, ext. 7", "PHONE:415-555-0132"},
      {"+1 415 555 0132 3 times", "PHONE:+1 415 555 0132"},  // +1 is exactly 11 digits
      {"+44 20 7946 0958 24/7", "PHONE:+44 20 7946 0958"},   // "24/7" is not part of it
      {"+7 (495) 123-45-67", "PHONE:+7 (495) 123-45-67"},
      {"+91-98765-43210", "PHONE:+91-98765-43210"},
  });
}

TEST_CASE("bare digit runs, ids and malformed numbers are not phone numbers", "[kernel][pii]") {
  check_negatives({
      "4155550132",          // bare ten digits: could be an id or a timestamp
      "id 1234567890",       // plain integer
      "123-456-7890",        // NANP area codes never start with 1
      "415-155-0132",        // nor exchanges
      "415-555-01322",       // too long
      "1415-555-0132",       // too long
      "415-555-0132-7",      // part of a longer dashed token
      "x415-555-0132",       // inside a word
      "415-555-0132x",       // inside a word
      "REF-415-555-0132",    // a dashed identifier
      "v1.415.555.0132",     // a version
      "415-555.0132",        // mixed separators
      "415--555-0132",       // double separator
      "(415) 5550132",       // no separator before the last four
      "(415)-555-0132",      // '-' after the area code
      "+12345",              // too short
      "+1 415 555 013",      // +1 needs ten more digits
      "+0 123 456 7890",     // no country code starts with 0
      "+1234567890123456",   // over 15 digits
      "+1-415-555-0132-99",  // part of a longer dashed token
      "C++ 17",
      "1+2345678",  // arithmetic
  });
}

TEST_CASE("dashed social security numbers outside the never-issued ranges are found",
          "[kernel][pii]") {
  check_positives({
      {"SSN 123-45-6789.", "SSN:123-45-6789"},
      {"078-05-1120", "SSN:078-05-1120"},
      {"(665-01-0001)", "SSN:665-01-0001"},
  });
  check_negatives({
      "000-12-3456",     // area 000
      "666-12-3456",     // area 666
      "900-12-3456",     // area 9xx
      "999-99-9999",     // area 9xx
      "123-00-4567",     // group 00
      "123-45-0000",     // serial 0000
      "123 45 6789",     // not dashed
      "123456789",       // not dashed
      "123-45-67890",    // too long
      "1123-45-6789",    // too long
      "123-45-6789-1",   // part of a longer token
      "ab123-45-6789",   // inside a word
      "2026-11-24",      // a date
      "SSN-123-45-6789"  // a dashed identifier
  });
}

TEST_CASE("luhn-valid card numbers from known issuers are found", "[kernel][pii]") {
  check_positives({
      {"card 4111 1111 1111 1111 exp", "CARD:4111 1111 1111 1111"},
      {"4111-1111-1111-1111", "CARD:4111-1111-1111-1111"},
      {"4111111111111111", "CARD:4111111111111111"},
      {"amex 378282246310005.", "CARD:378282246310005"},
      {"3782 822463 10005", "CARD:3782 822463 10005"},
      {"5555555555554444", "CARD:5555555555554444"},
      {"2223003122003222", "CARD:2223003122003222"},
      {"6011111111111117", "CARD:6011111111111117"},
      {"3530111333300000", "CARD:3530111333300000"},
      {"30569309025904", "CARD:30569309025904"},
      {"4222222222222", "CARD:4222222222222"},
      {"4111 1111 1111 1111 05/27", "CARD:4111 1111 1111 1111"},  // card, then expiry
      {"#4111111111111111;", "CARD:4111111111111111"},
  });
}

TEST_CASE("card-shaped numbers that fail luhn, issuer or boundaries are not cards",
          "[kernel][pii]") {
  check_negatives({
      "4111111111111112",           // Luhn fails
      "4111 1111 1111 1112",        // Luhn fails
      "4111-1111-1111-1121",        // Luhn fails
      "5555555555554445",           // Luhn fails
      "378282246310006",            // Luhn fails
      "41111111111111111111",       // 20 digits
      "14111111111111111",          // no network here issues 1…
      "1732442400000",              // a millisecond timestamp
      "1234567890123456789",        // a snowflake id
      "4111111111111111abc",        // runs on into a word
      "order_4111111111111111",     // an identifier
      "4111-1111-1111-1111-2222",   // a longer dashed token
      "4111 1111 1111 1111.5",      // a decimal
      "41111 1111 1111 1111",       // not a card layout
      "4111  1111 1111 1111",       // double space
      "4111 1111-1111 1111",        // mixed separators
      "4111111111111111111111111",  // a long run
      "4111111111111",              // fails Luhn
      "3411111111111111",           // passes Luhn, but American Express is 15 digits
  });
}

TEST_CASE("a card is preferred to a phone number that would contain it", "[kernel][pii]") {
  CHECK(found("+44 4111 1111 1111 1111") == std::vector<std::string>{"CARD:4111 1111 1111 1111"});
  CHECK(found("+4111111111111111") == std::vector<std::string>{"CARD:4111111111111111"});
}
