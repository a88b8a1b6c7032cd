// Explains simdjson's NUMBER_ERROR. simdjson fails the whole document with one message,
// "Problem while parsing a number", for a malformed literal (01, 1., -) and for one too
// large to represent (123456789012345678901234567890, 1e400) alike, naming neither the
// literal nor where it is. This re-scans the text for the first such literal and reports it
// with its byte offset and path. Errors are rare, so the scan favours clarity over speed.
// Pure function, thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "artana/kernel/status.h"
#include "json_path.h"

namespace artana::kernel {

// simdjson also refuses an integer literal beyond 64 bits that is how RFC 8785 writes an
// integral double in [2^64, 1e21) ("100000000000000000000" for 1e20). Writes `text` with each
// such literal followed by "e0" (the same number, read as a double) into `out`; false, and
// `out` unspecified, when there is none.
bool mark_large_double_literals(std::string_view text, std::string& out);

// An invalid_argument naming `source`, the literal, its offset and path; `path` is scratch
// (cleared first). Falls back to simdjson's message if no bad literal is found.
Status explain_number_error(std::string_view text, std::string_view source,
                            std::vector<PathSegment>& path);

}  // namespace artana::kernel
