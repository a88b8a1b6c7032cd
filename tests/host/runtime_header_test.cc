// The host's syscall handlers see typed arguments, never a Lua stack: the runtime's headers
// compile without Lua's (only the scheduler's own .cc includes <lua.hpp>). A compile-time
// check: building the tests fails if script_run.h pulls Lua's headers in again.
#include "script_run.h"

#ifdef LUA_VERSION_NUM
#error "script_run.h includes Lua's headers; lua/ (syscall_args.h, lua_fwd.h) keeps them private"
#endif
