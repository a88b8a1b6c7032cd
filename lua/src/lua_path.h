// Naming a place in a script's value the way the script wrote it: `args.items`,
// `args["odd key"]`. Shared by the Lua <-> JSON conversion and the schema shorthand.
// Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace artana::lua::detail {

// A key that can follow a '.' in a path: [A-Za-z_][A-Za-z0-9_]*.
bool is_identifier(std::string_view key);

// `key` in double quotes with JSON escapes, invalid UTF-8 as \xNN, cut with "…" past 64
// bytes so a huge key does not swamp the message (as kernel json_path.h renders keys).
std::string quote_key(std::string_view key);

// Appends one key step to a path: `.key` for an identifier (no dot at the start), else
// `["key"]` quoted. The one rule every path here is written by.
void append_key(std::string& path, std::string_view key);

// One step from the root of a value being read, on the reader's call stack. `key` borrows a
// Lua string that stays on the stack while the value below it is read.
struct PathNode {
  const PathNode* parent = nullptr;
  std::string_view key;
  long long index = 0;
  bool is_index = false;
};

// `root` followed by the steps down to `leaf`: args.items[3].name, args["weird key"];
// "value" for an empty root at the root.
std::string render_path(std::string_view root, const PathNode* leaf);

}  // namespace artana::lua::detail
