// The scan runs a block at a time (16 bytes with SSE2, which every x86-64 has; else 8 in a
// general-purpose register): typical payload text needs no escape, so most blocks are
// loaded once, tested with a few instructions and stored as they are.
#include "jcs_string.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace artana::kernel {
namespace {

constexpr size_t kWindow = 8;

enum ByteClass : uint8_t { kPlain, kEscaped, kMultiByte };

constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = kEscaped;
  table['"'] = kEscaped;
  table['\\'] = kEscaped;
  for (int c = 0x80; c < 0x100; ++c) table[c] = kMultiByte;
  return table;
}();

// Flags (the high bit of each byte) the bytes JCS cannot copy as they are: control
// characters, quote, backslash and non-ASCII. The has-zero / has-less-than word tricks
// ("Bit Twiddling Hacks") may also flag a byte just above a flagged one (a borrow), but the
// lowest flag is always real, and that is the only one used.
uint64_t special_bytes(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;
  return below_space | has_zero(word ^ (kOnes * '"')) | has_zero(word ^ (kOnes * '\\')) |
         (word & kHigh);
}

// How many bytes of the window precede the first flagged one. On big-endian machines
// borrows run toward earlier bytes, so there the caller steps one byte at a time.
size_t plain_prefix(uint64_t flags) {
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<size_t>(std::countr_zero(flags)) / 8;
  }
  return 0;
}

// Up to 8 bytes at `in` as one word; a short tail is padded with 'a' (which needs no
// escape), so every byte of every string is checked a word at a time.
uint64_t load_window(const char* in, size_t remaining) {
  uint64_t word;
  if (remaining >= kWindow) {
    std::memcpy(&word, in, kWindow);
    return word;
  }
  constexpr uint64_t kPadding = 0x6161616161616161ULL;  // "aaaaaaaa"
  if constexpr (std::endian::native == std::endian::little) {
    // Two overlapping loads cover 2..7 bytes in registers. (Assembling the tail in a stack
    // buffer and reloading it stalls store-to-load forwarding, once per string.)
    if (remaining >= 4) {
      uint32_t head, tail;
      std::memcpy(&head, in, 4);
      std::memcpy(&tail, in + remaining - 4, 4);
      word = head | (uint64_t{tail} << (8 * (remaining - 4)));
    } else if (remaining >= 2) {
      uint16_t head, tail;
      std::memcpy(&head, in, 2);
      std::memcpy(&tail, in + remaining - 2, 2);
      word = head | (uint64_t{tail} << (8 * (remaining - 2)));
    } else {
      word = static_cast<unsigned char>(in[0]);
    }
    return word | (kPadding << (8 * remaining));  // remaining is 1..7 here
  }
  char padded[kWindow];
  std::memcpy(padded, &kPadding, kWindow);
  std::memcpy(padded, in, remaining);
  std::memcpy(&word, padded, kWindow);
  return word;
}

// The RFC's escape of a byte kByteClass marks kEscaped; at most 6 bytes.
char* write_escape(char* out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  char short_form = 0;
  switch (c) {
    case '"':
      short_form = '"';
      break;
    case '\\':
      short_form = '\\';
      break;
    case '\b':
      short_form = 'b';
      break;
    case '\f':
      short_form = 'f';
      break;
    case '\n':
      short_form = 'n';
      break;
    case '\r':
      short_form = 'r';
      break;
    case '\t':
      short_form = 't';
      break;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      std::memcpy(out, u, sizeof(u));
      return out + sizeof(u);
    }
  }
  out[0] = '\\';
  out[1] = short_form;
  return out + 2;
}

// How far the next block (16 bytes with SSE2, else 8; fewer at the end) needs nothing, after
// copying it to `out` whole. `plain == block` means all of it; otherwise the byte after the
// plain ones is a control character, quote, backslash or non-ASCII (or, on big-endian
// machines, possibly a plain byte: the caller then copies that one alone).
struct Scan {
  size_t plain;
  size_t block;
};

Scan scan_block(const char* in, size_t remaining, char* out) {
#if defined(__SSE2__)
  if (remaining >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    // A byte's high bit: set in the compare results, and in `v` itself for non-ASCII.
    const auto flags = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(control, quote), _mm_or_si128(backslash, v))));
    return {flags == 0 ? 16 : static_cast<size_t>(std::countr_zero(flags)), 16};
  }
#endif
  const uint64_t word = load_window(in, remaining);
  std::memcpy(out, &word, kWindow);
  const uint64_t flags = special_bytes(word);
  const size_t block = remaining < kWindow ? remaining : kWindow;
  return {flags == 0 ? block : plain_prefix(flags), block};
}

}  // namespace

bool write_jcs_string(OutputBuffer& buffer, std::string_view s, Utf8Error* error) {
  // Invariant: the room reserved from `out` is at least the unread input, plus the closing
  // quote, plus kWindow for scan_block's 8-byte store, which may overhang the text (its
  // 16-byte store only happens with 16 bytes unread). Copied bytes keep their length;
  // only an escape (up to 6 bytes for 1) must ask for more.
  char* out = buffer.reserve(s.size() + 2 + kWindow);
  *out++ = '"';
  const char* in = s.data();
  const char* const end = in + s.size();
  while (in < end) {
    const Scan scan = scan_block(in, static_cast<size_t>(end - in), out);
    in += scan.plain;
    out += scan.plain;
    if (scan.plain == scan.block) continue;
    const auto c = static_cast<unsigned char>(*in);
    if (kByteClass[c] == kPlain) {
      *out++ = *in++;
    } else if (kByteClass[c] == kEscaped) {
      buffer.commit(out);
      out = buffer.reserve(static_cast<size_t>(end - in) - 1 + 6 + 1 + kWindow);
      out = write_escape(out, c);
      ++in;
    } else {  // non-ASCII goes out raw once it is known to be well formed
      std::string_view reason;
      const auto at = static_cast<size_t>(in - s.data());
      const size_t length = utf8_sequence_length(s, at, &reason);
      if (length == 0) {
        buffer.commit(out);
        *error = Utf8Error{at, reason};
        return false;
      }
      for (size_t k = 0; k < length; ++k) *out++ = *in++;
    }
  }
  *out++ = '"';
  buffer.commit(out);
  return true;
}

void append_key_for_message(std::string& out, std::string_view key) {
  size_t i = 0;
  while (i < key.size()) {
    if (i >= kMaxKeyBytesShown) {
      out.append("…");
      return;
    }
    const auto c = static_cast<unsigned char>(key[i]);
    if (kByteClass[c] == kPlain) {
      out.push_back(key[i++]);
    } else if (kByteClass[c] == kEscaped) {
      char escape[6];
      out.append(escape, write_escape(escape, c));
      ++i;
    } else {
      std::string_view ignored;
      const size_t length = utf8_sequence_length(key, i, &ignored);
      if (length == 0) {
        static constexpr char kHex[] = "0123456789abcdef";
        const char x[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
        out.append(x, sizeof(x));
        ++i;
      } else {
        out.append(key.substr(i, length));
        i += length;
      }
    }
  }
}

}  // namespace artana::kernel
