// Canonical JSON: RFC 8785 (JSON Canonicalization Scheme, JCS), exactly.
//
// What the ledger hashes. Keys sorted by UTF-16 code units, no whitespace, the RFC's string
// escaping, numbers in ECMAScript Number::toString form. Rejected, with an error naming the
// path (`payload.messages[3].content`): NaN/Inf, integers beyond ±2^53, strings or keys that
// are not valid UTF-8, duplicate keys. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

// Largest integer magnitude JSON can carry losslessly through an IEEE double (2^53).
inline constexpr int64_t kMaxSafeInteger = 9007199254740992;

// The JCS text of `value`. `root` names the value in error messages ("payload").
Result<std::string> canonical_json(const Json& value, std::string_view root = "$");

// Appends the JCS text of `value` to `out`; on error `out` holds a partial write.
Status append_canonical_json(std::string& out, const Json& value, std::string_view root = "$");

// Appends the JCS form of a string (quotes included). Fails on invalid UTF-8; `path` names it.
Status append_canonical_string(std::string& out, std::string_view utf8, std::string_view path);

// Appends a number in ECMAScript form ("1e+21", "0.000001", "-0" -> "0"). Fails on NaN/Inf.
Status append_canonical_double(std::string& out, double value, std::string_view path);

// JCS key order: compares the UTF-16 code units of two valid UTF-8 strings.
bool jcs_key_less(std::string_view a, std::string_view b);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Length (1..4) of the well-formed UTF-8 character starting at s[i], or 0 when the byte there
// does not start one. REQUIRES: i < s.size().
size_t utf8_char_length(std::string_view s, size_t i);

// Text made readable by everyone it reaches (a message recorded as JSON, which refuses
// invalid UTF-8; a C string, which ends at a NUL): a byte not part of well-formed UTF-8
// becomes U+FFFD and NUL becomes the two characters "\0". The next piece of `s` from `*i`
// (a character, or its replacement), advancing `*i`. REQUIRES: *i < s.size().
std::string_view next_readable_piece(std::string_view s, size_t* i);
// All of `s`, piece by piece.
std::string readable_text(std::string_view s);
// readable_text on one line of a log or a terminal: control characters are escaped too
// ("\n", "\r", "\t", "\x1b"...), so text a script wrote cannot start a forged log line or
// send terminal escape sequences.
std::string one_line_text(std::string_view s);

}  // namespace artana::kernel
