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

}  // namespace artana::lua::detail
