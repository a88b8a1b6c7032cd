// The surface scripts program against: the `artana` module (tool, model_port, json_schema,
// optional, array), `require`, and the run object whose methods are syscalls. Written in
// Lua (lua/prelude/artana.lua, compiled into the binary) over the C primitives of
// syscall_bridge.h.
//
// The host drives a script through four functions kept in the registry:
//   boot(chunk)      the entry thread's body: runs the script's chunk, calls the `ready`
//                    primitive (which starts or resumes the run), then entry(run, input);
//   call(fn, ...)    the body of a model port's or a tool's thread;
//   tools, ports     what artana.tool / artana.model_port registered, by name. A tool is
//                    { name, description, args, capability, side_effect, version, fn }.
// Threading: as for the lua_State.
#pragma once

#include <string>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/syscall_bridge.h"

namespace artana::lua {

struct ScriptApi {
  int boot = kNoRef;  // registry references
  int call = kNoRef;
  int tools = kNoRef;
  int ports = kNoRef;

  // Pushes the referenced value.   [-0, +1, -]
  static void push(lua_State* L, int ref);
};

// Installs the module, `require` and the run object into `state`, bound to `handler` (which
// must outlive the state; nullptr: bound later with LuaState::set_handler, before a script
// runs — a state made ahead of the run that takes it). Call once.
Result<ScriptApi> install_script_api(LuaState& state, SyscallHandler* handler);
// A new module in a state that had one (LuaState::recycle), replacing `old`: what the last
// execution registered, required or kept in the module is gone. The prelude is not loaded
// again, only called.
Result<ScriptApi> renew_script_api(LuaState& state, const ScriptApi& old);

// A module and environment of its own for `execution`, one of the runs sharing `state`
// (execution.h): what its script registers, requires or keeps is its own, and the state's
// libraries and prelude are shared read-only. Its syscalls reach the execution's handler.
// The module is charged to the execution. Close it with close_script_execution.
Result<ScriptApi> open_script_execution(LuaState& state, Execution* execution);
// Lets go of the execution's module and environment (what the collector then frees is
// credited to it). Before LuaState::close_execution.
void close_script_execution(LuaState& state, Execution* execution, ScriptApi& api);

// A tool as artana.tool registered it: `args` is its argument shorthand or schema, as JSON.
struct RegisteredToolFields {
  std::string name;
  std::string description;
  std::string capability;
  std::string version = "1";
  bool side_effect = false;
  kernel::Json args;
};
// What the script registered, read while no Lua code runs (after the entry's `ready` yield).
// A tool whose args cannot be read as JSON: invalid_argument naming the tool.
Result<std::vector<RegisteredToolFields>> registered_tools(lua_State* main, const ScriptApi& api);
std::vector<std::string> registered_port_names(lua_State* main, const ScriptApi& api);

}  // namespace artana::lua
