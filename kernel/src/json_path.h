// Paths naming a value inside a JSON document in error messages: `$.messages[3].content`,
// `$["weird key"][0]`. Rendered only when an error is reported, so the parser's ok path
// just records segments. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace artana::kernel {

// One step from the root: a member name or an array index.
struct PathSegment {
  std::string_view key;  // when is_key; borrowed, must outlive the rendering
  size_t index = 0;      // when !is_key
  bool is_key = false;
  // The key is still JSON-escaped source text (as the number re-scan finds it), so it is
  // shown as is instead of being escaped again.
  bool key_is_escaped = false;
};

// `root` ("$", "payload", or empty) followed by `.key` for identifier-like keys (no dot right
// after an empty root), `["key"]` for others, `[i]` for indices.
std::string render_json_path(std::span<const PathSegment> path, std::string_view root = "$");

// `key` in double quotes with JSON escapes (invalid UTF-8 bytes as \xNN), cut with "…" past
// 64 bytes so a huge key does not swamp a log line. `escaped`: `key` already holds JSON
// escapes.
std::string quote_json_key(std::string_view key, bool escaped = false);

}  // namespace artana::kernel
