// UTF-8 for the canonical JSON encoder: well-formedness checks that give a reason for the
// first bad byte (so an error can say what is wrong, not only that something is), and
// the UTF-16 code unit order RFC 8785 sorts keys by, computed on the UTF-8 bytes.
//
// "Well formed" is Unicode's Table 3-7 (and RFC 3629): no overlong forms, no UTF-16
// surrogates (U+D800..U+DFFF) encoded as three bytes, nothing above U+10FFFF, no
// truncated sequences. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace artana::kernel {

// Why a byte sequence is not UTF-8; a static string, e.g. "overlong encoding".
struct Utf8Error {
  size_t offset = 0;        // of the first byte of the bad sequence
  std::string_view reason;  // lowercase noun phrase, never empty
};

// Length (2..4) of the well-formed multi-byte sequence starting at s[i], or 0 with
// `*reason` set. REQUIRES: i < s.size() and s[i] >= 0x80 (ASCII is the caller's fast path).
size_t utf8_sequence_length(std::string_view s, size_t i, std::string_view* reason);

// The first problem in `s`, or false when `s` is well formed.
bool find_utf8_error(std::string_view s, Utf8Error* error);

// Sort rank of the first byte where two UTF-8 strings differ. In valid UTF-8 both are then
// lead (or ASCII) bytes, or both continuation bytes after the same lead, where byte order
// already is code point order and UTF-16 order. Across leads, UTF-8 byte order is code
// point order, but UTF-16 puts U+10000 and above (lead F0..F4, surrogates D800..DBFF
// first) before U+E000..U+FFFF (lead EE..EF). Moving EE and EF to the top is enough: ED
// reaches only U+D7FF in valid UTF-8. The map permutes 0..255, so the order stays a
// strict total order even on invalid input.
inline unsigned utf16_rank(unsigned char c) {
  if (c < 0xEE) return c;
  if (c >= 0xF0) return c - 2u;
  return c + 0x10u;  // EE -> FE, EF -> FF
}

// jcs_key_less (canonical_json.h), inline for the encoder's sort.
inline bool utf16_less(std::string_view a, std::string_view b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  if (i == n) return a.size() < b.size();  // a proper prefix sorts first, in UTF-16 too
  return utf16_rank(static_cast<unsigned char>(a[i])) <
         utf16_rank(static_cast<unsigned char>(b[i]));
}

}  // namespace artana::kernel
