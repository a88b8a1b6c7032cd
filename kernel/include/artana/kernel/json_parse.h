// Parsing JSON text into Json, with simdjson's DOM parser (full validation).
//
// Everything hashed or replayed goes through here. Stricter than simdjson alone: duplicate
// keys and numbers that cannot be carried exactly (integers beyond ±2^53, numbers simdjson
// refuses as too large) are errors naming their path (`$.messages[3].content`), never a
// silently different value. Integers without fraction or exponent become kInteger,
// everything else kDouble. Copies the input into a padded buffer, so `text` may point
// anywhere (an LMDB map included). Thread-safe (one parser per thread internally).
#pragma once

#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

// `source` names the input in errors ("model response", "events/run-1#4").
Result<Json> parse_json(std::string_view text, std::string_view source = "json");

}  // namespace artana::kernel
