#include "middleware/pii_numbers.h"

#include <array>
#include <cstdint>

namespace artana::kernel::pii {
namespace {

constexpr size_t kMinCardDigits = 13;
constexpr size_t kMaxCardDigits = 19;
constexpr size_t kMaxCardGroups = 8;

char at(std::string_view s, size_t j) { return j < s.size() ? s[j] : '\0'; }

// Length of the digit run at s[j], counting at most `cap` (enough to reject a longer run).
size_t digit_run(std::string_view s, size_t j, size_t cap) {
  size_t k = 0;
  while (k < cap && j + k < s.size() && is_digit(s[j + k])) ++k;
  return k;
}

bool is_phone_sep(char c) { return c == ' ' || c == '-' || c == '.'; }

// A number must not touch a letter, digit or '_', nor continue a longer token across a joiner:
// "v1.415.555.0132" is a version, "REF-123-45-6789" an id, "12:30/4111…" a time or a path.
// A sentence may still end right after a number ("call 415-555-0132.").
bool starts_clean(std::string_view s, size_t i) {
  if (i == 0) return true;
  const char p = s[i - 1];
  if (is_word(p)) return false;
  if (i < 2) return true;
  if (p == '-' || p == '.') return !is_word(s[i - 2]);
  if (p == ':' || p == '/') return !is_digit(s[i - 2]);
  return true;
}

bool ends_clean(std::string_view s, size_t e) {
  if (e >= s.size()) return true;
  const char c = s[e];
  if (is_word(c)) return false;
  if (e + 1 >= s.size()) return true;
  if (c == '-' || c == '.') return !is_word(s[e + 1]);
  if (c == ':' || c == '/') return !is_digit(s[e + 1]);
  return true;
}

bool luhn_ok(const uint8_t* d, size_t len) {
  unsigned sum = 0;
  for (size_t k = 0; k < len; ++k) {
    unsigned v = d[len - 1 - k];
    if (k % 2 == 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
  }
  return sum % 10 == 0;
}

// The major networks' issuer prefixes and lengths. Luhn alone passes one random number in
// ten; ids, snowflakes and millisecond timestamps of 13-19 digits mostly start with 1, which
// no network here issues, so the prefix is what keeps them out.
bool issuer_ok(const uint8_t* d, size_t len) {
  const int two = d[0] * 10 + d[1];
  const int four = two * 100 + d[2] * 10 + d[3];
  switch (d[0]) {
    case 4:  // Visa
      return len == 13 || len == 16 || len == 19;
    case 3:
      if (two == 34 || two == 37) return len == 15;                            // American Express
      if (two == 35) return len >= 16;                                         // JCB
      return (two == 30 || two == 36 || two == 38 || two == 39) && len >= 14;  // Diners Club
    case 5:
      if (two >= 51 && two <= 55) return len == 16;  // Mastercard
      return true;                                   // Maestro (50, 56-59): 12-19 digits
    case 2:
      if (four >= 2221 && four <= 2720) return len == 16;  // Mastercard 2-series
      return four >= 2200 && four <= 2204 && len >= 16;    // Mir
    case 6:  // Discover, UnionPay, RuPay, Maestro: 13-19 digits
      return true;
    default:
      return false;
  }
}

// The layouts cards are printed in: 4-4-4-4 (and 4-4-4-1 up to 4-4-4-4-3 for 13-19 digits),
// American Express 4-6-5, Diners Club 4-6-4. `g` holds the group lengths, g[0] == 4.
bool grouping_ok(const std::array<size_t, kMaxCardGroups>& g, size_t count) {
  if (count == 3 && g[1] == 6 && (g[2] == 5 || g[2] == 4)) return true;
  for (size_t k = 1; k + 1 < count; ++k) {
    if (g[k] != 4) return false;
  }
  return g[count - 1] <= 4;
}

// 13-19 digits, contiguous or in groups joined by one space or one dash throughout.
size_t match_card(std::string_view s, size_t i) {
  std::array<uint8_t, kMaxCardDigits> d{};
  const size_t run = digit_run(s, i, kMaxCardDigits + 1);
  if (run >= kMinCardDigits) {
    if (run > kMaxCardDigits || !ends_clean(s, i + run)) return 0;
    for (size_t k = 0; k < run; ++k) d[k] = static_cast<uint8_t>(s[i + k] - '0');
    return luhn_ok(d.data(), run) && issuer_ok(d.data(), run) ? i + run : 0;
  }
  const char sep = at(s, i + 4);
  if (run != 4 || (sep != ' ' && sep != '-')) return 0;
  std::array<size_t, kMaxCardGroups> groups{};
  std::array<size_t, kMaxCardGroups> ends{};
  size_t count = 0;
  size_t total = 0;
  size_t j = i;
  while (count < kMaxCardGroups) {
    const size_t len = digit_run(s, j, 7);
    if (len == 0 || len > 6 || total + len > kMaxCardDigits) break;
    for (size_t k = 0; k < len; ++k) d[total + k] = static_cast<uint8_t>(s[j + k] - '0');
    total += len;
    j += len;
    groups[count] = len;
    ends[count++] = j;
    if (at(s, j) != sep) break;
    ++j;
  }
  // Longest layout first, then fewer groups: "4111 1111 1111 1111 05/27" is a card and its
  // expiry date. With dashes ends_clean refuses a cut, as "-" then a digit continues a token.
  for (size_t n = count; n >= 3; --n) {
    total = 0;
    for (size_t k = 0; k < n; ++k) total += groups[k];
    if (total < kMinCardDigits || !grouping_ok(groups, n) || !ends_clean(s, ends[n - 1])) continue;
    if (luhn_ok(d.data(), total) && issuer_ok(d.data(), total)) return ends[n - 1];
  }
  return 0;
}

// ddd-dd-dddd, never from the ranges the SSA has never issued: area 000, 666 and 900-999,
// group 00, serial 0000.
size_t match_ssn(std::string_view s, size_t i) {
  if (digit_run(s, i, 4) != 3 || at(s, i + 3) != '-' || digit_run(s, i + 4, 3) != 2 ||
      at(s, i + 6) != '-' || digit_run(s, i + 7, 5) != 4 || !ends_clean(s, i + 11)) {
    return 0;
  }
  auto num = [&](size_t from, size_t len) {
    int v = 0;
    for (size_t k = 0; k < len; ++k) v = v * 10 + (s[from + k] - '0');
    return v;
  };
  const int area = num(i, 3);
  if (area == 0 || area == 666 || area >= 900 || num(i + 4, 2) == 0 || num(i + 7, 4) == 0) return 0;
  return i + 11;
}

// North American numbers must show their 3-3-4 shape with separators: "(415) 555-0132",
// "415-555-0132", "415.555.0132", "415 555 0132", "415 555-0132", optionally after a "1"
// trunk prefix ("1-800-555-0199"). Area code and exchange start with 2-9, as NANP assigns.
size_t match_nanp(std::string_view s, size_t i) {
  size_t j = i;
  if (s[j] == '1' && is_phone_sep(at(s, j + 1)) &&
      (is_digit(at(s, j + 2)) || at(s, j + 2) == '(')) {
    j += 2;
  }
  size_t area = j;
  size_t exchange = 0;
  if (s[j] == '(') {
    area = j + 1;
    if (digit_run(s, area, 4) != 3 || at(s, j + 4) != ')') return 0;
    j += 5;
    if (at(s, j) == ' ') ++j;
    exchange = j;
    if (digit_run(s, j, 4) != 3 || !is_phone_sep(at(s, j + 3))) return 0;
    j += 4;
  } else {
    const char sep1 = at(s, j + 3);
    if (digit_run(s, j, 4) != 3 || !is_phone_sep(sep1)) return 0;
    exchange = j + 4;
    const char sep2 = at(s, j + 7);
    if (digit_run(s, exchange, 4) != 3 || !(sep2 == sep1 || (sep1 == ' ' && sep2 == '-'))) return 0;
    j += 8;
  }
  if (digit_run(s, j, 5) != 4 || s[area] < '2' || s[exchange] < '2') return 0;
  return ends_clean(s, j + 4) ? j + 4 : 0;
}

// '+', a country code (never starting with 0) and 7-15 digits in all (E.164), in groups joined
// by one space, '-' or '.', with at most one group in parentheses: "+1 (415) 555-0132",
// "+44 (0)20 7946 0958". "+1" is NANP, so exactly 11 digits. Groups are taken while the total
// fits, then given back from the right until the number ends cleanly, so in "+44 20 7946 0958
// 24/7" the phone number stops before "24/7". A trailing short number joined by a space
// ("… 0958 24 hours") is taken in: a few digits too many hide nothing the text needed.
size_t match_plus_phone(std::string_view s, size_t i) {
  const char first = at(s, i + 1);
  if (first < '1' || first > '9') return 0;
  const size_t max = first == '1' ? 11 : 15;
  const size_t min = first == '1' ? 11 : 7;
  std::array<size_t, 16> ends{};    // after each group taken
  std::array<size_t, 16> totals{};  // digits up to there
  size_t groups = 0;
  size_t j = i + 1;
  size_t digits = 0;
  bool paren_used = false;
  while (j < s.size()) {
    const bool paren = s[j] == '(';
    if (paren) {
      if (paren_used || digits == 0) break;
      paren_used = true;
      ++j;
    }
    const size_t run = digit_run(s, j, max + 1);
    if (run == 0 || digits + run > max) break;
    j += run;
    if (paren && at(s, j++) != ')') break;
    digits += run;
    ends[groups] = j;
    totals[groups++] = digits;  // at most 15 groups: each has a digit
    const char next = at(s, j);
    if (is_phone_sep(next) && (is_digit(at(s, j + 1)) || at(s, j + 1) == '(')) {
      ++j;
    } else if (next != '(' && !(paren && is_digit(next))) {
      break;
    }
  }
  for (size_t g = groups; g > 0 && totals[g - 1] >= min; --g) {
    if (ends_clean(s, ends[g - 1])) return ends[g - 1];
  }
  return 0;
}

// Whether a card starts inside the phone-shaped span [b, e).
bool card_inside(std::string_view s, size_t b, size_t e) {
  for (size_t k = b; k < e; ++k) {
    if (is_digit(s[k]) && starts_clean(s, k) && match_card(s, k) != 0) return true;
  }
  return false;
}

}  // namespace

Match match_number(std::string_view text, size_t i) {
  if (!starts_clean(text, i)) return {};
  const char c = text[i];
  if (c == '+') {
    const size_t end = match_plus_phone(text, i);
    if (end == 0 || card_inside(text, i + 1, end)) return {};
    return {end, PiiType::kPhone};
  }
  // The first run of digits tells the shapes apart, so most numbers in ordinary text (years,
  // counts, times) are turned away here without trying each shape.
  const size_t run = c == '(' ? 0 : digit_run(text, i, kMaxCardDigits + 1);
  if (run == 4 || run >= kMinCardDigits) {
    if (const size_t end = match_card(text, i)) return {end, PiiType::kCard};
  } else if (run == 3) {
    if (const size_t end = match_ssn(text, i)) return {end, PiiType::kSsn};
  }
  if (run == 3 || c == '(' || (run == 1 && c == '1')) {
    if (const size_t end = match_nanp(text, i)) return {end, PiiType::kPhone};
  }
  return {};
}

}  // namespace artana::kernel::pii
