// Parsing JSON text into Json, with simdjson's DOM parser (full validation).
//
// Everything hashed or replayed goes through here. Stricter than simdjson alone: duplicate
// keys and numbers that cannot be carried exactly (integers beyond ±2^53, numbers simdjson
// refuses as too large) are errors naming their path (`$.messages[3].content`), never a
// silently different value. Integers without fraction or exponent become kInteger ("-0" is
// integer 0), everything else kDouble ("1.0" and "1e2" too). An integer literal beyond ±2^53
// is read as a kDouble when it is exactly how RFC 8785 writes that double
// ("1152921504606847000" is 2^60: what canonical_json writes is always readable), and refused
// otherwise ("9007199254740993"). Copies the input into a padded
// buffer, so `text` may point anywhere (an LMDB map included) and need not be padded.
//
// Errors: invalid_argument, naming `source`, for anything that is not one well-formed JSON
// value (empty input, truncation, text after the value, invalid UTF-8, nesting deeper than
// 1024 levels); unavailable when out of memory.
//
// Thread-safe: each thread reuses its own parser and buffer, about 14 bytes per input
// byte, released again after inputs over 1 MiB.
#pragma once

#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

// `source` names the input in errors ("model response", "events/run-1#4").
Result<Json> parse_json(std::string_view text, std::string_view source = "json");

}  // namespace artana::kernel
