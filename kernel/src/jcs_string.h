// JSON strings as RFC 8785 §3.2.2.2 writes them, validating UTF-8 on the way.
//
// `"` and `\` escaped, \b \f \n \r \t for those controls, \u00xx (lowercase) for the other
// controls below U+0020, everything else (U+007F and all non-ASCII) as raw UTF-8. Pure
// functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "output_buffer.h"
#include "utf8.h"

namespace artana::kernel {

// Writes `s` quoted and escaped. False, with `*error` set and a partial string written,
// when `s` is not well-formed UTF-8.
bool write_jcs_string(OutputBuffer& out, std::string_view s, Utf8Error* error);

inline constexpr size_t kMaxKeyBytesShown = 64;  // json_path.cc quotes keys with this too

// Appends a key for an error message (no quotes): JSON escapes, \xNN for bytes that are not
// UTF-8 so a message about a bad key never carries bad UTF-8 into a log, cut with "…"
// past kMaxKeyBytesShown so a huge key does not swamp the line.
void append_key_for_message(std::string& out, std::string_view key);

}  // namespace artana::kernel
