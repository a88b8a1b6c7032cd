// Number-shaped PII for the scanner (pii_scanner.h): payment cards, US social security
// numbers and phone numbers, plus the byte classes the scanner shares with them.
// Internal to the kernel. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "middleware/pii_scanner.h"

namespace artana::kernel::pii {

// [A-Za-z0-9_]. '_' counts as a letter so that the digits of a placeholder ("[PHONE_12]") or
// an identifier ("order_4111111111111111") never start a match; bytes >= 0x80 do not count,
// so UTF-8 text around a match acts as a boundary.
inline constexpr std::array<bool, 256> kWordByte = [] {
  std::array<bool, 256> word{};
  for (int c = 0; c < 256; ++c) {
    word[c] =
        (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  }
  return word;
}();

inline bool is_word(char c) { return kWordByte[static_cast<unsigned char>(c)]; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A match starting at a known byte.
struct Match {
  size_t end = 0;  // 0: no match
  PiiType type = PiiType::kPhone;
};

// The card, SSN or phone number starting exactly at text[i] (a digit, '+' or '('), in that
// order of preference. A card wins over a phone number that contains one ("+44 4111 1111 …").
// REQUIRES: i < text.size().
Match match_number(std::string_view text, size_t i);

}  // namespace artana::kernel::pii
