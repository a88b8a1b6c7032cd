// The one error shape scripts see (STYLE.md §5): a table
//   { kind = "capability_denied", message = "...", step_key = "charge",
//     where = "main.lua:12", traceback = "stack traceback: ..." }
// with a shared, protected metatable (`__name` "artana.error", `__tostring` giving
// "kind: message (step 'key')"), raised with lua_error and catchable with pcall.
//
// BoundaryError carries such an error across the C++/Lua edge in both directions. It is
// trivially destructible (fixed buffers, no std::string), so a lua_CFunction can hold one
// while calling code that may longjmp: fill it inside a scope where C++ objects live, let
// the scope end, then `return raise_error(L, err);`. Text that does not fit is cut at a
// UTF-8 boundary and ends in "…".
//
// Threading: as for the lua_State it is used with.
#pragma once

#include "artana/lua/lua_fwd.h"

#include <string_view>
#include <type_traits>

#include "artana/kernel/status.h"

namespace artana::lua {

// The chunk name of the host's own Lua code (the `artana` module, the run object). Its
// frames never count as an error's `where`: that is always the script's line.
inline constexpr char kHostChunkName[] = "=[artana]";

struct BoundaryError {
  char kind[48] = {};       // error_kind names ("replay_drift") or status code names
  char message[1024] = {};  // names the thing: path, step, tool
  char step_key[416] = {};  // up to kMaxStepKeyBytes (400); empty when none
  char where[256] = {};     // "file:line"; empty means "the nearest Lua caller" on raise
  // The host passes on an error script code raised (a run:parallel branch's) rather than
  // one it decided: its kind is the script's, not noted as raised (LuaState::raised).
  bool relayed = false;

  // kind = visible_kind(status), message = visible_message(status) (artana/kernel/status.h);
  // the step key is the status's own, else `step_key`. REQUIRES: !status.ok().
  static BoundaryError from(const Status& status, std::string_view step_key = {});
  static BoundaryError make(std::string_view kind, std::string_view message,
                            std::string_view step_key = {});
};
static_assert(std::is_trivially_destructible_v<BoundaryError>);

// Pushes the error table for `e` (no `where` unless e.where is set).   [-0, +1, m]
// Pushes the script-visible name of `kind` (error_kind.h).   [-0, +1, m]
void push_kind(lua_State* L, ErrorKind kind);
void push_error(lua_State* L, const BoundaryError& e);

// Pushes the error table, sets `where` to the nearest Lua caller's "file:line" (unless
// e.where is set), and raises it. Never returns; typed int for `return raise_error(L, e);`.
// REQUIRES: no C++ object with a destructor is alive in the calling C function.
// [-0, +1, v]
int raise_error(lua_State* L, const BoundaryError& e);

// Writes "file:line" of the first Lua frame at `level` or above that is the script's (not a
// C function, not the host's chunk) into out. False when there is none. Works on suspended
// threads too. Never raises.   [-0, +0, -]
bool write_where(lua_State* L, int level, char* out, size_t size);

// Message handler for lua_pcall / xpcall. An artana error gets `traceback` (and `where`
// when missing); a plain table with string `kind` and `message` gets our metatable and
// the same fields (one with a metatable of its own keeps it and its identity, gaining only
// where/traceback, set raw); a string becomes { kind = "script_error", message = <string>, where,
// traceback }; any other value becomes a script_error describing its type (never an address).
int traceback_handler(lua_State* L);

// True when the value at `index` is an artana error table. Needs 2 free stack slots.
// [-0, +0, -]
bool is_error_table(lua_State* L, int index);

// Copies a Lua error value back into C++: an error table's kind/message/step_key/where,
// or a script_error describing a string or other value. Never raises, allocates nothing
// in Lua, so the host may call it right after lua_pcall returns.   [-0, +0, -]
BoundaryError read_error(lua_State* L, int index);

}  // namespace artana::lua
