// Protected helpers the host uses to set up and read its threads (tasks) while no Lua code
// runs: every function here does its Lua work inside lua_pcall on the state's main thread,
// so running out of memory is a returned status, never a longjmp through the host's C++
// frames. The main thread's stack is left as it was found.
// Threading: as for the lua_State.
#pragma once

#include "artana/lua/lua_fwd.h"

#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::lua {

// One argument to push: a registry reference (the run object, a table of functions), or a
// JSON value.
struct CallArg {
  int ref = kNoRef;
  const kernel::Json* json = nullptr;
};

// Prepares `thread` (new, not started) to run `body(fn, args...)`, where `body` is the
// registry reference `body_ref` and fn is looked up as:
//   table_ref[name]            (field empty), or
//   table_ref[name][field]     (a tool's fn), or
//   table_ref[index]           (name empty: index is 1-based; a run:parallel branch).
// Returns the number of values to resume the thread with (1 + args), or an error naming
// what was missing (kNotFound) or that memory ran out (limit_exceeded).
Result<int> prepare_call(lua_State* main, lua_State* thread, int body_ref, int table_ref,
                         std::string_view name, std::string_view field, int index,
                         const std::vector<CallArg>& args);

// Pushes `chunk` (loaded as text, named `chunkname`, in the sandbox environment) onto
// `thread` after the registry value `body_ref`. Syntax errors come back as script_error
// naming the file and line.
Status prepare_chunk(lua_State* main, lua_State* thread, int body_ref, std::string_view chunk,
                     std::string_view chunkname);

// Pops the top `count` values of `main` into new registry references (the deepest first),
// for values a waiting syscall moved there. On memory exhaustion the values are dropped and
// the references are kNoRef.
void take_refs(lua_State* main, int count, int* refs_out);
void release_ref(lua_State* main, int ref);

// The traceback of `thread` (suspended or dead), or "" when memory ran out.
std::string traceback_of(lua_State* main, lua_State* thread);

// Builds (true, {r1, ..., rn}) on `target`, taking the top value of each thread in
// `sources` (finished threads whose top is their result). Returns 2, or -1 when memory ran
// out.
int push_results_array(lua_State* main, lua_State* target, const std::vector<lua_State*>& sources);

}  // namespace artana::lua
