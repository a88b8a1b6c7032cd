// Functions shared by the sandbox's translation units (sandbox.cc builds the environment
// from them). Each lua_CFunction follows STYLE.md §5: nothing with a destructor is alive
// when it may raise.
#pragma once

#include <lua.hpp>

#include "artana/lua/sandbox.h"

namespace artana::lua::detail {

// kill_guard.cc: pcall/xpcall/coroutine.resume/wrap that never hand a kill to the script.
int guarded_pcall(lua_State* L);
int guarded_xpcall(lua_State* L);
int guarded_co_resume(lua_State* L);
int guarded_co_wrap(lua_State* L);
// Pushes a closure calling `fn` (popped from the top) and raising again if the state was
// killed meanwhile: for C functions that catch errors internally (load, coroutine.close).
void push_kill_checked(lua_State* L);
// Pushes coroutine.close (the real one popped from the top) refusing host threads and
// rethrowing kills.
void push_guarded_co_close(lua_State* L);
// If L's LuaState is killed, raises its limit_exceeded error.
void raise_if_killed(lua_State* L);

// deterministic_pairs.cc
int deterministic_pairs(lua_State* L);
// Pushes the deterministic `next` (a closure owning its snapshot cache).
void push_deterministic_next(lua_State* L);
// Pushes an iterator triple over the table at `index` in the deterministic order:
// iterator, table, nil. Used by proxies' __pairs.   [-0, +3, v]
int push_sorted_iteration(lua_State* L, int index);

// charged_builtins.cc: wraps the functions of the string, table or utf8 table at `index`
// whose C work grows with their input, charging it to the instruction budget.
void charge_string_table(lua_State* L, int index);
void charge_table_table(lua_State* L, int index);
void charge_utf8_table(lua_State* L, int index);
// Wraps table[name] (a plain C function) to charge the bytes of its string arguments.
void charge_base_function(lua_State* L, int table, const char* name);
// Charges `units` instructions of C work; raises the run's kill when the budget is spent.
// REQUIRES: no C++ object with a destructor alive in the caller.
uint64_t charge_work(lua_State* L, uint64_t units);

// pattern_guard.cc: replaces find/match/gmatch/gsub/format in the table at `index`.
void guard_string_table(lua_State* L, int index);

// sandbox_base.cc
// Pushes the tostring of the value at `index` with no addresses.   [-0, +1, e]
void push_safe_tostring(lua_State* L, int index);
// Sets the base functions the sandbox replaces (print, tostring, load, collectgarbage,
// setmetatable, getmetatable, rawset) into the table at `allowed`. Needs the original `load`
// at `real_load`; load's default environment is the running execution's (push_sandbox_env).
void set_base_functions(lua_State* L, int allowed, int real_load);
// Pushes print, writing each line to options.print_sink.
void push_print(lua_State* L, const SandboxOptions& options);

}  // namespace artana::lua::detail
