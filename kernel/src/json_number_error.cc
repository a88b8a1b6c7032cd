#include "json_number_error.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>

#include "artana/kernel/canonical_json.h"

namespace artana::kernel {
namespace {

enum class Verdict { kOk, kMalformed, kTooLarge };

constexpr size_t kMaxLiteralBytesShown = 40;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Ends a scalar token as simdjson sees it: whitespace, structure or a string's quote. So
// "1x" is one (malformed) token, as it is to simdjson.
bool ends_token(char c) {
  return std::string_view(" \t\n\r,:[]{}\"").find(c) != std::string_view::npos;
}

// Decimal exponent of the first significant digit of a well-formed literal: "1e400" -> 400,
// "0.001e-400" -> -403. Only its sign is used: from_chars reports overflow and underflow
// alike, but simdjson refuses only overflow (it reads 1e-400 as 0).
int64_t leading_exponent(std::string_view s) {
  size_t i = s[0] == '-' ? 1 : 0;
  int64_t lead = -1;
  if (s[i] != '0') {
    size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    lead = static_cast<int64_t>(i - start) - 1;
  } else if (i + 1 < s.size() && s[i + 1] == '.') {
    for (i += 2; i < s.size() && s[i] == '0'; ++i) --lead;
  }
  size_t e = s.find_first_of("eE");
  if (e == std::string_view::npos) return lead;
  bool negative = s[e + 1] == '-';
  int64_t exponent = 0;
  for (size_t j = e + 1; j < s.size(); ++j) {
    // Clamped: past 10^9 the exponent alone decides the sign, and int64 cannot overflow.
    if (is_digit(s[j])) exponent = std::min<int64_t>(exponent * 10 + (s[j] - '0'), 1'000'000'000);
  }
  return lead + (negative ? -exponent : exponent);
}

// The offset of the '"' closing the string whose opening quote is at `i` (text.size() when
// the text ends first).
size_t string_end(std::string_view text, size_t i) {
  size_t end = i + 1;
  while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
  return std::min(end, text.size());
}

// The offset just past the number-like token starting at `i`.
size_t token_end(std::string_view text, size_t i) {
  while (i < text.size() && !ends_token(text[i])) ++i;
  return i;
}

// RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
// REQUIRES: !s.empty().
Verdict check_literal(std::string_view s) {
  size_t i = 0;
  auto skip_digits = [&] {
    size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    return i - start;
  };
  if (s[i] == '-') ++i;
  size_t first_digit = i;
  size_t digits = skip_digits();
  if (digits == 0 || (digits > 1 && s[first_digit] == '0')) return Verdict::kMalformed;
  bool integral = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    integral = false;
    if (skip_digits() == 0) return Verdict::kMalformed;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    integral = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (skip_digits() == 0) return Verdict::kMalformed;
  }
  if (i != s.size()) return Verdict::kMalformed;

  const char* begin = s.data();
  const char* end = begin + s.size();
  if (integral) {
    // simdjson carries int64, and uint64 above INT64_MAX; it refuses anything larger.
    int64_t as_signed = 0;
    uint64_t as_unsigned = 0;
    bool fits = s[0] == '-' ? std::from_chars(begin, end, as_signed).ec == std::errc()
                            : std::from_chars(begin, end, as_unsigned).ec == std::errc();
    return fits ? Verdict::kOk : Verdict::kTooLarge;
  }
  double value = 0;
  if (std::from_chars(begin, end, value).ec == std::errc::result_out_of_range &&
      leading_exponent(s) > 0) {
    return Verdict::kTooLarge;
  }
  return Verdict::kOk;
}

std::string shown_literal(std::string_view literal) {
  if (literal.size() <= kMaxLiteralBytesShown) return std::string(literal);
  size_t n = kMaxLiteralBytesShown;
  while (n > 0 && (static_cast<unsigned char>(literal[n]) & 0xC0) == 0x80) --n;
  return fmt::format("{}… ({} bytes)", literal.substr(0, n), literal.size());
}

// Whether `literal`, an integer beyond 64 bits, is how RFC 8785 writes a double (an
// integral double in [2^64, 1e21) is written with all its digits).
bool names_a_double(std::string_view literal) {
  if (literal.find_first_of(".eE") != std::string_view::npos) return false;
  double value = 0;
  auto [end, ec] = std::from_chars(literal.data(), literal.data() + literal.size(), value);
  if (ec != std::errc() || end != literal.data() + literal.size()) return false;
  std::string written;
  return append_canonical_double(written, value, "").ok() && written == literal;
}

}  // namespace

bool mark_large_double_literals(std::string_view text, std::string& out) {
  out.clear();
  bool marked = false;
  size_t copied = 0;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      i = string_end(text, i) + 1;
      continue;
    }
    if (c == '-' || is_digit(c)) {
      const size_t end = token_end(text, i);
      std::string_view literal = text.substr(i, end - i);
      if (check_literal(literal) == Verdict::kTooLarge && names_a_double(literal)) {
        out.append(text.substr(copied, end - copied));
        out += "e0";  // the same number, which simdjson now reads as a double
        copied = end;
        marked = true;
      }
      i = end;
      continue;
    }
    ++i;
  }
  if (marked) out.append(text.substr(copied));
  return marked;
}

Status explain_number_error(std::string_view text, std::string_view source,
                            std::vector<PathSegment>& path) {
  path.clear();
  bool expect_key = false;  // the next string in the innermost object is a key
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '"') {
      const size_t end = string_end(text, i);
      if (expect_key && !path.empty()) path.back().key = text.substr(i + 1, end - i - 1);
      expect_key = false;
      i = end + 1;
      continue;
    }
    if (c == '-' || is_digit(c)) {
      const size_t end = token_end(text, i);
      std::string_view literal = text.substr(i, end - i);
      Verdict verdict = check_literal(literal);
      if (verdict == Verdict::kTooLarge) {
        bool integral = literal.find_first_of(".eE") == std::string_view::npos;
        return Status::invalid_argument(
            "{}: number {} at byte {} ({}) is too large to be represented{}", source,
            shown_literal(literal), i, render_json_path(path),
            integral ? " (an integer beyond 64 bits); pass it as a string" : " as a double");
      }
      if (verdict == Verdict::kMalformed) {
        return Status::invalid_argument(
            "{}: malformed number {} at byte {} ({}); JSON numbers look like -12, 0.5 or 1e-3",
            source, shown_literal(literal), i, render_json_path(path));
      }
      i = end;
      continue;
    }
    switch (c) {
      case '{':
        path.push_back(PathSegment{.is_key = true, .key_is_escaped = true});
        expect_key = true;
        break;
      case '[':
        path.push_back(PathSegment{});
        break;
      case '}':
      case ']':
        if (!path.empty()) path.pop_back();
        break;
      case ',':
        if (!path.empty()) {
          ++path.back().index;
          expect_key = path.back().is_key;
        }
        break;
      default:  // whitespace, ':', the letters of true/false/null
        break;
    }
    ++i;
  }
  return Status::invalid_argument("{}: not valid JSON: {}", source,
                                  simdjson::error_message(simdjson::NUMBER_ERROR));
}

}  // namespace artana::kernel
