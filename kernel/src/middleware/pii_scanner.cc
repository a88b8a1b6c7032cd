#include "middleware/pii_scanner.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "middleware/pii_numbers.h"

namespace artana::kernel {
namespace {

using pii::is_digit;
using pii::is_word;

constexpr size_t kNone = std::string_view::npos;
constexpr size_t kMaxLocalPart = 64;  // RFC 5321 limits
constexpr size_t kMaxDomain = 253;
constexpr size_t kMaxLabel = 63;

// Byte classes for e-mail addresses and API key bodies; bytes >= 0x80 are in none.
enum ByteClass : uint8_t {
  kAlnum = 1,          // [A-Za-z0-9]
  kUpperDigit = 2,     // [A-Z0-9]
  kUnderscore = 4,     // _
  kDash = 8,           // -
  kLocal = 16,         // e-mail local part: [A-Za-z0-9._%+-]
  kDomain = 32,        // e-mail domain: [A-Za-z0-9.-]
  kKeyStart = 64,      // first byte of a key prefix
  kNumberStart = 128,  // [0-9+(]
};
// Where a match may start, when the byte before is not a word byte (next_trigger).
constexpr uint8_t kTrigger = kKeyStart | kNumberStart;

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> cls{};
  for (int c = 0; c < 256; ++c) {
    const bool upper = c >= 'A' && c <= 'Z';
    const bool alnum = upper || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    uint8_t v = 0;
    if (alnum) v |= kAlnum | kLocal | kDomain;
    if (upper || (c >= '0' && c <= '9')) v |= kUpperDigit;
    if (c == '_') v |= kUnderscore | kLocal;
    if (c == '-') v |= kDash | kLocal | kDomain;
    if (c == '.') v |= kLocal | kDomain;
    if (c == '%' || c == '+') v |= kLocal;
    if (c == 's' || c == 'r' || c == 'A' || c == 'g' || c == 'x') v |= kKeyStart;
    if ((c >= '0' && c <= '9') || c == '+' || c == '(') v |= kNumberStart;
    cls[c] = v;
  }
  return cls;
}();

bool has(char c, uint8_t classes) { return (kClass[static_cast<unsigned char>(c)] & classes) != 0; }

// An API key: a vendor's prefix, then a body of `body` bytes whose length is at least `min`
// (and exactly `exact` when that is not 0). Prefixes are what make these safe to match: a
// random 40-byte token without one is more likely a hash or an id than a secret.
struct KeyShape {
  std::string_view prefix;
  uint8_t body;
  size_t min;
  size_t exact;
};

constexpr uint8_t kKeyChars = kAlnum | kUnderscore | kDash;
constexpr KeyShape kKeyShapes[] = {
    {"sk-", kKeyChars, 20, 0},  // OpenAI, including sk-proj-…; Anthropic sk-ant-…
    {"sk_live_", kAlnum, 16, 0},
    {"rk_live_", kAlnum, 16, 0},    // Stripe secret and restricted keys
    {"AKIA", kUpperDigit, 16, 16},  // AWS access key id
    {"AIza", kKeyChars, 35, 35},    // Google API key
    {"ghp_", kAlnum | kUnderscore, 20, 0},
    {"gho_", kAlnum | kUnderscore, 20, 0},
    {"ghs_", kAlnum | kUnderscore, 20, 0},
    {"ghu_", kAlnum | kUnderscore, 20, 0},
    {"github_pat_", kAlnum | kUnderscore, 20, 0},  // GitHub tokens
    {"xoxb-", kAlnum | kDash, 10, 0},
    {"xoxp-", kAlnum | kDash, 10, 0},
    {"xoxa-", kAlnum | kDash, 10, 0},
    {"xoxr-", kAlnum | kDash, 10, 0},  // Slack tokens
};

// The key starting at the word start text[i], or 0. The body is taken greedily and must end
// the word, so a longer token ("AKIA" + 17) or one running on in '_' is not a key.
size_t match_key(std::string_view text, size_t i) {
  if (i + 1 >= text.size()) return 0;
  for (const KeyShape& shape : kKeyShapes) {
    // Two bytes first: most words starting with 's' or 'r' fail here, before the full compare.
    if (text[i] != shape.prefix[0] || text[i + 1] != shape.prefix[1] ||
        text.compare(i, shape.prefix.size(), shape.prefix) != 0) {
      continue;
    }
    const size_t body = i + shape.prefix.size();
    size_t end = body;
    while (end < text.size() && has(text[end], shape.body)) ++end;
    const size_t len = end - body;
    if (len < shape.min || (shape.exact != 0 && len != shape.exact)) continue;
    if (end < text.size() && is_word(text[end])) continue;
    return end;
  }
  return 0;
}

// Labels of 1-63 [A-Za-z0-9-] not starting or ending in '-', at least two of them, the last
// (the TLD) two or more letters: "localhost", "10.0.0.1" and "example.c0m" are not domains.
bool domain_ok(std::string_view d) {
  if (d.empty() || d.size() > kMaxDomain) return false;
  size_t labels = 0;
  size_t start = 0;
  std::string_view label;
  while (true) {
    const size_t dot = d.find('.', start);
    label = d.substr(start, dot == kNone ? kNone : dot - start);
    if (label.empty() || label.size() > kMaxLabel || label.front() == '-' || label.back() == '-') {
      return false;
    }
    ++labels;
    if (dot == kNone) break;
    start = dot + 1;
  }
  if (labels < 2 || label.size() < 2) return false;
  for (char c : label) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// The address around the '@' at text[at], using no byte before `floor` (those are in a span
// already reported); end == 0 when there is none. The local part runs back to the first byte
// that cannot be in one, the domain forward likewise; then the shape is checked.
PiiSpan email_at(std::string_view text, size_t at, size_t floor) {
  constexpr PiiSpan kNo{0, 0, PiiType::kEmail};
  size_t b = at;
  while (b > floor && has(text[b - 1], kLocal)) --b;
  // Cut short by a reported span, or a fediverse handle ("@alice@example.social").
  if (b > 0 && (has(text[b - 1], kLocal) || text[b - 1] == '@')) return kNo;
  while (b < at && text[b] == '.') ++b;  // "see ...bob@example.com"
  if (b == at || at - b > kMaxLocalPart || text[at - 1] == '.') return kNo;
  for (size_t k = b; k + 1 < at; ++k) {
    if (text[k] == '.' && text[k + 1] == '.') return kNo;
  }
  size_t e = at + 1;
  while (e < text.size() && has(text[e], kDomain)) ++e;
  // A sentence may end right after an address ("write to bob@example.com.").
  while (e > at + 1 && (text[e - 1] == '.' || text[e - 1] == '-')) --e;
  if (e < text.size() && (text[e] == '_' || text[e] == '@')) return kNo;
  if (!domain_ok(text.substr(at + 1, e - at - 1))) return kNo;
  return {b, e, PiiType::kEmail};
}

// The first address whose local part starts at or after `floor`; begin == kNone when none.
// Each '@' is found by memchr and the expansions around it stop at the neighbouring '@'s, so
// finding every address in a text is linear in its length.
PiiSpan next_email(std::string_view text, size_t floor) {
  size_t from = floor;
  while (from < text.size()) {
    const void* hit = std::memchr(text.data() + from, '@', text.size() - from);
    if (hit == nullptr) break;
    const size_t at = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
    if (const PiiSpan email = email_at(text, at, floor); email.end != 0) return email;
    from = at + 1;
  }
  return {kNone, kNone, PiiType::kEmail};
}

// Sixteen bytes at a time through GCC's vector extensions (SSE2 on x86-64, NEON on arm64):
// looking each byte up in a scalar loop costs about two cycles a byte, and most blocks of
// text hold no trigger at all. Lane k is text[i + k]; a lane is all ones where true.
using Bytes = unsigned char __attribute__((vector_size(16)));
constexpr size_t kLanes = sizeof(Bytes);

// The first position in [i, stop) holding a trigger byte that starts the text or follows a
// non-word byte; `stop` when there is none. Only a filter: it may stop where nothing matches,
// never skip where something could.
size_t next_trigger(std::string_view text, size_t i, size_t stop) {
  const char* p = text.data();
  for (; i < 2 && i < stop; ++i) {
    if (has(p[i], kTrigger) && (i == 0 || !is_word(p[i - 1]))) return i;
  }
  // Each block also reads the two bytes before and the byte after each lane, inside `text`.
  for (; i + kLanes + 1 <= stop; i += kLanes) {
    Bytes v;
    Bytes before;
    Bytes after;
    std::memcpy(&v, p + i, kLanes);
    std::memcpy(&before, p + i - 1, kLanes);
    std::memcpy(&after, p + i + 1, kLanes);
    const auto digit = (v - '0') < 10;
    // 'A'-'Z' | 0x20 is 'a'-'z', and no other byte lands there.
    const auto word = ((before - '0') < 10) | (((before | 0x20) - 'a') < 26) | (before == '_');
    // Key prefixes by their first two bytes, as words starting with 's' or 'r' are common and
    // ones starting with "sk" or "rk" are not: "sk", "rk", "AK", "AI", "gh", "gi", "xo".
    const auto key = (((v == 's') | (v == 'r')) & (after == 'k')) |
                     ((v == 'A') & ((after == 'K') | (after == 'I'))) |
                     ((v == 'g') & ((after == 'h') | (after == 'i'))) |
                     ((v == 'x') & (after == 'o'));
    const auto opener = ((v == '+') | (v == '(')) & ((after - '0') < 10);
    auto fire = (digit | opener | key) & ~word;
    uint64_t half[2];
    std::memcpy(half, &fire, sizeof half);
    if ((half[0] | half[1]) == 0) continue;  // most blocks of prose
    // A digit continuing a token, as pii::match_number's starts_clean refuses it: "2.3.1",
    // "10:00:00", "REF-123". Worked out only here, as ids and times are dense in some text.
    Bytes before2;
    std::memcpy(&before2, p + i - 2, kLanes);
    const auto digit2 = (before2 - '0') < 10;
    const auto word2 = digit2 | (((before2 | 0x20) - 'a') < 26) | (before2 == '_');
    const auto continues = (((before == '-') | (before == '.')) & word2) |
                           (((before == ':') | (before == '/')) & digit2);
    fire &= ~(digit & continues);
    std::memcpy(half, &fire, sizeof half);
    if ((half[0] | half[1]) == 0) continue;
    const uint64_t bits = half[0] != 0 ? half[0] : half[1];
    const int skipped = std::endian::native == std::endian::little ? std::countr_zero(bits)
                                                                   : std::countl_zero(bits);
    return i + (half[0] != 0 ? 0 : 8) + static_cast<size_t>(skipped) / 8;
  }
  for (; i < stop; ++i) {
    if (has(p[i], kTrigger) && !is_word(p[i - 1])) return i;
  }
  return stop;
}

}  // namespace

std::string_view pii_type_label(PiiType t) {
  switch (t) {
    case PiiType::kEmail:
      return "EMAIL";
    case PiiType::kPhone:
      return "PHONE";
    case PiiType::kSsn:
      return "SSN";
    case PiiType::kCard:
      return "CARD";
    case PiiType::kApiKey:
      return "API_KEY";
  }
  return "PII";
}

// One pass. Every shape but an address starts on a trigger byte (kTrigger) after a non-word
// byte, so the loop jumps from one such byte to the next. The next address is found ahead of
// the scan and bounds it; a match that would overlap it is dropped, as an address is the
// surest shape.
std::vector<PiiSpan> find_pii(std::string_view text) {
  std::vector<PiiSpan> spans;
  const size_t n = text.size();
  PiiSpan email = next_email(text, 0);
  size_t i = 0;
  while (true) {
    const size_t stop = email.begin < n ? email.begin : n;
    while ((i = next_trigger(text, i, stop)) < stop) {
      const pii::Match match = has(text[i], kKeyStart)
                                   ? pii::Match{match_key(text, i), PiiType::kApiKey}
                                   : pii::match_number(text, i);
      if (match.end != 0 && match.end <= stop) {
        spans.push_back({i, match.end, match.type});
        i = match.end;
      } else {
        ++i;
      }
    }
    if (stop == n) break;
    spans.push_back(email);
    i = email.end;
    email = next_email(text, i);
  }
  return spans;
}

}  // namespace artana::kernel
