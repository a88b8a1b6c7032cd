// Lua <-> JSON values: what crosses the syscall boundary (script args, tool results, model
// output). Values cross as kernel::Json, never as live Lua references.
//
// Lua -> JSON (to_json) is strict, so a value the ledger cannot hash is refused at the call
// that passed it, with the path that names it (`args.items[3].name`, `args["weird key"]`):
//   nil/boolean/string  -> null/bool/string (strings must be valid UTF-8)
//   integer             -> integer, |v| <= 2^53 (kMaxSafeInteger); beyond: pass it as a string
//   float               -> integer when integral and |v| <= 2^53 (1.0 -> 1, -0.0 -> 0),
//                          else double; NaN and ±inf are errors
//   table, keys 1..n    -> array (dense, n >= 1; a hole or a key outside 1..n is an error)
//   table, string keys  -> object (keys valid UTF-8; members sorted by jcs_key_less)
//   empty table         -> {} unless it carries the array marker (mark_array) -> []
//   mixed keys, float/boolean/table keys, cycles, nesting deeper than kMaxLuaJsonDepth,
//   functions, userdata, threads -> invalid_argument naming the path (and the key).
// Array indices in paths are Lua's (1-based): the script author wrote the table, so
// `args.list[2]` is the second item, the one they see as list[2].
// Metamethods are never called (__index, __pairs, __len): only the raw table crosses.
//
// JSON -> Lua (push_json): integers stay integers, doubles stay floats, arrays become
// sequences (an empty one carries the array marker so it comes back as []), objects become
// tables, null becomes nil (so a null array item leaves a hole and a null member vanishes).
//
// Threading: one lua_State is used by one thread at a time, as Lua requires.
#pragma once

#include "artana/lua/lua_fwd.h"

#include <span>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::lua {

// Deepest table nesting that crosses either way; the kernel's JSON parser has the same limit.
inline constexpr int kMaxLuaJsonDepth = 1024;

// The value at `index` as JSON. `root` names it in errors ("args"). Never raises a Lua
// error and never calls Lua code: every API call it makes is one the manual marks `-`
// (see lua_json.cc), so it is safe to call with C++ objects alive. The stack top is the
// same on return as on entry, on every path. Errors: invalid_argument naming the path;
// unavailable when C++ allocation fails.   [-0, +0, -]
Result<kernel::Json> to_json(lua_State* L, int index, std::string_view root);

// Appends to `out` the canonical JSON (artana/kernel/canonical_json.h) of what to_json would make
// of the value at `index`, written as the value is read: no kernel::Json is built. The same walk as
// to_json: the same values accepted, the same errors and charges; on an error nothing is appended.
// What a replayed step hashes its request from.   [-0, +0, -]
Status append_canonical_lua(lua_State* L, int index, std::string_view root, std::string& out);

// Pushes `value` as a Lua value. The pushing runs inside lua_pcall, so a memory error (the
// state's allocator refusing past its limit) comes back as LUA_ERRMEM instead of jumping
// over the caller's C++ frames. Returns LUA_OK with the value on top, or a Lua status with
// the error object on top (the caller pops it). Nesting deeper than kMaxLuaJsonDepth is
// LUA_ERRRUN.   [-0, +1, -]
int push_json(lua_State* L, const kernel::Json& value);

// Pushes a table made from `text`, the JSON text of an object: its members named in `keep`
// (converted as push_json would; absent ones stay absent), then the members of `extra` (an
// object). What a replayed result becomes without a kernel::Json tree in between. Returns
// LUA_OK with the table on top; LUA_ERRSYNTAX with nothing pushed and `problem` set to a
// static description when the text is not a JSON object; or another Lua status with the
// error object on top (the caller pops it).   [-0, +1, -]
int push_object_members(lua_State* L, std::string_view text, std::span<const std::string_view> keep,
                        const kernel::Json& extra, const char** problem);

// Pushes the shared array-marker metatable (a registry entry, created on first use).
// `artana.array()` uses it to make an empty table that crosses as [].   [-0, +1, m]
void push_array_marker(lua_State* L);

// Views: a table whose metatable has a table in `__artana_json` crosses as that table (the
// stdlib's read-only units keep their data there). The field's name is kept in the registry
// so the conversion, which must not raise, reads it without creating a string; until this
// is called (the script API calls it when it installs) no table is a view.   [-0, +0, m]
void enable_json_views(lua_State* L);

// Gives the table at `index` the array-marker metatable.   [-0, +0, m]
void mark_array(lua_State* L, int index);

// When the table at `index` is a view (enable_json_views), pushes its data table and
// returns true; else pushes nothing. Never raises. Needs 2 free stack slots.   [-0, +(0|1), -]
bool push_json_view_data(lua_State* L, int index);

// True when the value at `index` carries the array marker. Needs 2 free stack slots.
// [-0, +0, -]
bool is_marked_array(lua_State* L, int index);

}  // namespace artana::lua
