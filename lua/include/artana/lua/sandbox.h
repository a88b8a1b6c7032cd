// The script sandbox: a fresh environment table per lua_State holding only allow-listed
// builtins (docs/lua_binding.md). Scripts cannot assign globals, change library tables
// or the string metatable, load binary chunks, reach io/os/debug/package, register __gc
// or __mode, see addresses, or iterate tables in an order that differs between runs.
// Touching a removed name raises { kind = "sandbox_violation" } naming it and, where one
// exists, the syscall to use instead (os.time -> run:now(), math.random -> run:random()).
//
// Decisions documented here because scripts can observe them:
// - pairs/next visit numbers (ascending by value, integers and floats mixed), then strings
//   (bytewise), then false, true. Other key types raise sandbox_violation. pairs() sorts
//   once per call and steps in O(1); keys added during a loop are not visited, keys set to
//   nil are skipped. __pairs is honoured (the script's own code decides that order).
//   Direct next(t, k) keeps a strong, host-internal cache of up to 8 tables' snapshots,
//   dropped when a traversal ends or the cache is full; next(t) (k == nil) always sorts
//   afresh, so `next(t) == nil` costs O(n log n). The cache never depends on the GC.
// - __gc and __mode: setmetatable refuses a metatable that has either; rawset refuses
//   either key; a metatable that had no metatable of its own gets a hidden guard whose
//   __newindex refuses adding them later. Not covered: adding __mode by plain assignment
//   to a metatable that already had a script-set metatable (documented gap). __gc added
//   later never takes effect in Lua 5.4 (finalizers are registered by setmetatable).
// - Library tables (string, table, math, utf8, coroutine) and the environment are empty
//   proxies: rawget(string, "format") is nil; pairs(string) lists the functions.
// - Uncatchable kills (pcall, xpcall, coroutine.resume/wrap, load) are the LuaState's.
//
// Threading: as for the lua_State.
#pragma once

#include "artana/lua/lua_fwd.h"

#include <functional>
#include <string_view>

namespace artana::lua {

struct SandboxOptions {
  // Receives each print() line (arguments joined by tabs, no newline). Empty: discarded.
  std::function<void(std::string_view)> print_sink;
};

// Opens the allowed standard libraries into L and builds the sandbox environment.
// REQUIRES: called once, inside a protected call (it allocates and may raise).
void install_sandbox(lua_State* L, const SandboxOptions& options);

// Pushes the environment scripts run in: the current execution's (Execution::environment),
// else the sandbox's own, built by install_sandbox.   [-0, +1, -]
void push_sandbox_env(lua_State* L);

// Pops the top value (the execution's `require`) and pushes a new environment for one
// execution: the sandbox's globals, read-only as they are, with that `require` and `_G` the
// environment itself. Executions sharing a state each get one, so what one script requires
// never reaches another's. REQUIRES: inside a protected call.   [-1, +1, m]
void push_execution_env(lua_State* L);

}  // namespace artana::lua
