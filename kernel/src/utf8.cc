// UTF-8 validation per Unicode Table 3-7, naming the first problem.
#include "utf8.h"

#include <cstdint>
#include <cstring>

#include "artana/kernel/canonical_json.h"

namespace artana::kernel {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Index of the first non-ASCII byte at or after `i`, eight bytes at a time: payloads are
// mostly ASCII, so this loop is where validation spends its time.
size_t skip_ascii(std::string_view s, size_t i) {
  while (i + 8 <= s.size()) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if ((word & kHighBits) != 0) break;
    i += 8;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

}  // namespace

size_t utf8_sequence_length(std::string_view s, size_t i, std::string_view* reason) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  const size_t avail = s.size() - i;
  const unsigned char lead = p[0];
  size_t length = 0;
  // Bounds of the second byte; Table 3-7 narrows them after E0, ED, F0 and F4.
  unsigned char low = 0x80, high = 0xBF;
  if (lead < 0xC0) {
    *reason = "unexpected continuation byte";
    return 0;
  } else if (lead < 0xC2) {
    *reason = "overlong encoding";
    return 0;
  } else if (lead < 0xE0) {
    length = 2;
  } else if (lead < 0xF0) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead < 0xF5) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    *reason = lead < 0xF8 ? "code point beyond U+10FFFF" : "byte that never occurs in UTF-8";
    return 0;
  }
  if (avail < 2 || !is_continuation(p[1])) {
    *reason = "truncated sequence";
    return 0;
  }
  if (p[1] < low) {
    *reason = "overlong encoding";
    return 0;
  }
  if (p[1] > high) {
    *reason = lead == 0xED ? "UTF-16 surrogate encoded in UTF-8" : "code point beyond U+10FFFF";
    return 0;
  }
  for (size_t k = 2; k < length; ++k) {
    if (k >= avail || !is_continuation(p[k])) {
      *reason = "truncated sequence";
      return 0;
    }
  }
  return length;
}

bool find_utf8_error(std::string_view s, Utf8Error* error) {
  size_t i = skip_ascii(s, 0);
  while (i < s.size()) {
    std::string_view reason;
    const size_t length = utf8_sequence_length(s, i, &reason);
    if (length == 0) {
      *error = Utf8Error{i, reason};
      return true;
    }
    i = skip_ascii(s, i + length);
  }
  return false;
}

bool is_valid_utf8(std::string_view s) {
  Utf8Error ignored;
  return !find_utf8_error(s, &ignored);
}

size_t utf8_char_length(std::string_view s, size_t i) {
  if (static_cast<unsigned char>(s[i]) < 0x80) return 1;
  std::string_view ignored;
  return utf8_sequence_length(s, i, &ignored);
}

std::string_view next_readable_piece(std::string_view s, size_t* i) {
  const size_t at = *i;
  const size_t length = utf8_char_length(s, at);
  if (length == 0) {
    *i = at + 1;
    return "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
  }
  *i = at + length;
  if (s[at] == '\0') return "\\0";
  return s.substr(at, length);
}

std::string readable_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out += next_readable_piece(s, &i);
  return out;
}

std::string one_line_text(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const std::string_view piece = next_readable_piece(s, &i);
    const auto byte = static_cast<unsigned char>(piece[0]);
    const bool c1 =
        piece.size() == 2 && byte == 0xc2 && static_cast<unsigned char>(piece[1]) < 0xa0;
    if (c1) {  // U+0080..U+009F: some terminals take U+009B as an escape sequence's start
      out += "\\u00";
      out += kHex[static_cast<unsigned char>(piece[1]) >> 4];
      out += kHex[piece[1] & 0xf];
    } else if (piece.size() != 1 || (byte >= 0x20 && byte != 0x7f)) {
      out += piece;
    } else if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\r') {
      out += "\\r";
    } else if (byte == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

bool jcs_key_less(std::string_view a, std::string_view b) { return utf16_less(a, b); }

}  // namespace artana::kernel
