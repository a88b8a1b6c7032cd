// Number::toString per ECMA-262 §6.1.6.1.20 (Number::toString, radix 10), the layout RFC
// 8785 §3.2.2.3 adopts. The digits come from std::to_chars, whose shortest round-trip
// form is the same (s, k, n) the ECMAScript algorithm chooses; only the layout is ours.
#include "ecmascript_number.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace artana::kernel {
namespace {

// Every integer below 2^53 is a double exactly, and its ECMAScript form is its plain
// decimal (no shorter digit string rounds to it), so integer formatting is exact there.
constexpr double kExactIntegerLimit = 9007199254740992.0;  // 2^53

// The shortest round-trip digits of a positive finite double: value = 0.d1d2...dk × 10^n,
// in the ECMAScript spec's names (s = digits, k = digit count, n = decimal point position).
struct Digits {
  char s[24];
  int k = 0;
  int n = 0;
};

Digits shortest_digits(double value) {
  // "d.ddde±XXX": at most 17 digits, a point, 'e', a sign and 3 exponent digits.
  char text[32];
  const auto [end, ec] =
      std::to_chars(text, text + sizeof(text), value, std::chars_format::scientific);
  assert(ec == std::errc());
  (void)ec;
  Digits d;
  const char* p = text;
  for (; *p != 'e'; ++p) {
    if (*p != '.') d.s[d.k++] = *p;
  }
  ++p;  // 'e'
  const bool negative_exponent = *p++ == '-';
  int exponent = 0;
  for (; p < end; ++p) exponent = exponent * 10 + (*p - '0');
  d.n = (negative_exponent ? -exponent : exponent) + 1;
  return d;
}

char* copy(char* out, const char* from, int count) {
  std::memcpy(out, from, static_cast<size_t>(count));
  return out + count;
}

char* zeros(char* out, int count) {
  std::memset(out, '0', static_cast<size_t>(count));
  return out + count;
}

}  // namespace

char* write_ecmascript_number(char* out, double value) {
  assert(std::isfinite(value));
  if (value == 0) {  // both +0 and -0: ECMAScript prints "0" for each
    *out++ = '0';
    return out;
  }
  if (value < 0) {
    *out++ = '-';
    value = -value;
  }
  if (value < kExactIntegerLimit) {
    const auto whole = static_cast<int64_t>(value);
    if (static_cast<double>(whole) == value) {
      return std::to_chars(out, out + kMaxEcmascriptNumberChars - 1, whole).ptr;
    }
  }

  const Digits d = shortest_digits(value);
  if (d.k <= d.n && d.n <= 21) {  // integer: the digits, then n-k zeros ("1e20" -> 1 and 20 0s)
    out = copy(out, d.s, d.k);
    return zeros(out, d.n - d.k);
  }
  if (0 < d.n && d.n <= 21) {  // point inside the digits: "333333333.3333333"
    out = copy(out, d.s, d.n);
    *out++ = '.';
    return copy(out, d.s + d.n, d.k - d.n);
  }
  if (-6 < d.n && d.n <= 0) {  // small: "0.000001", "0.002"
    *out++ = '0';
    *out++ = '.';
    out = zeros(out, -d.n);
    return copy(out, d.s, d.k);
  }
  // Exponent form with an explicit sign: "1e+21", "1.5e-7".
  *out++ = d.s[0];
  if (d.k > 1) {
    *out++ = '.';
    out = copy(out, d.s + 1, d.k - 1);
  }
  const int exponent = d.n - 1;
  *out++ = 'e';
  *out++ = exponent < 0 ? '-' : '+';
  return std::to_chars(out, out + 4, exponent < 0 ? -exponent : exponent).ptr;
}

}  // namespace artana::kernel
