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

// An invalid_argument naming `source`, the literal, its offset and path; `path` is scratch
// (cleared first). Falls back to simdjson's message if no bad literal is found.
Status explain_number_error(std::string_view text, std::string_view source,
                            std::vector<PathSegment>& path);

}  // namespace artana::kernel
