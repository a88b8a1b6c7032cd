#include "artana/lua/script_api.h"

#include <lua.hpp>

#include <cstring>
#include <mutex>
#include <string>
#include <string_view>

#include "artana/lua/lua_error.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/sandbox.h"
#include "sandbox_raise.h"

namespace artana::lua {

extern const char kPreludeSource[];  // generated from lua/prelude/artana.lua

void ScriptApi::push(lua_State* L, int ref) { lua_rawgeti(L, LUA_REGISTRYINDEX, ref); }

namespace {

struct Primitive {
  const char* name;
  SyscallOp op;
};

constexpr Primitive kPrimitives[] = {
    {"model", SyscallOp::kModel},
    {"tool", SyscallOp::kTool},
    {"pause", SyscallOp::kPause},
    {"now", SyscallOp::kNow},
    {"random", SyscallOp::kRandom},
    {"sleep", SyscallOp::kSleep},
    {"summary", SyscallOp::kSummary},
    {"artifact", SyscallOp::kArtifact},
    {"version", SyscallOp::kVersion},
    {"replaying", SyscallOp::kReplaying},
    {"run_id", SyscallOp::kRunId},
    {"step_begin", SyscallOp::kStepBegin},
    {"step_end", SyscallOp::kStepEnd},
    {"step_abort", SyscallOp::kStepAbort},
    {"scope_enter", SyscallOp::kScopeEnter},
    {"scope_exit", SyscallOp::kScopeExit},
    {"parallel", SyscallOp::kParallel},
    {"memory", SyscallOp::kMemory},
    {"lookup", SyscallOp::kLookup},
    {"child", SyscallOp::kChild},
    {"ready", SyscallOp::kReady},
    {"require", SyscallOp::kLoadModule},
    {"fail", SyscallOp::kFail},
    {"param_count", SyscallOp::kParamCount},
    {"array", SyscallOp::kMarkArray},
    {"canonical_json", SyscallOp::kCanonicalJson},
    {"sha256", SyscallOp::kSha256},
};

struct Install {
  ScriptApi api;
};

int take_ref(lua_State* L, int table, const char* field) {
  lua_getfield(L, table, field);
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

// The prelude compiled once per process: every new state loads its bytecode, which is
// several times faster than parsing the source again (a state is made per run, and per
// resume of a parked one). The bytecode is only ever ours, dumped here from the source the
// build embedded, debug info kept for tracebacks; scripts can never load binary chunks.
std::mutex g_prelude_mu;
std::string g_prelude_bytecode;  // guarded by g_prelude_mu; empty until the first state

int append_bytes(lua_State*, const void* bytes, size_t size, void* out) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
  return 0;
}

// Pushes the prelude's main function (or raises lua_load's error).
void load_prelude(lua_State* L) {
  std::string_view cached;
  {
    std::lock_guard<std::mutex> lock(g_prelude_mu);
    cached = g_prelude_bytecode;  // never changed once set: the view stays valid
  }
  if (!cached.empty()) {
    if (luaL_loadbufferx(L, cached.data(), cached.size(), kHostChunkName, "b") != LUA_OK) {
      lua_error(L);
    }
    return;
  }
  const size_t size = std::strlen(kPreludeSource);
  if (luaL_loadbufferx(L, kPreludeSource, size, kHostChunkName, "t") != LUA_OK) lua_error(L);
  std::string bytecode;
  lua_dump(L, append_bytes, &bytecode, 0);
  std::lock_guard<std::mutex> lock(g_prelude_mu);
  if (g_prelude_bytecode.empty()) g_prelude_bytecode = std::move(bytecode);
}

// Whether key `a` sorts before key `b` (stack indexes) for unknown_field: numbers, then
// strings, each in order, then other types by their type number (ties keep the first met).
bool key_before(lua_State* L, int a, int b) {
  const int ta = lua_type(L, a), tb = lua_type(L, b);
  if (ta != tb) {
    auto rank = [](int t) { return t == LUA_TNUMBER ? 0 : t == LUA_TSTRING ? 1 : 2 + t; };
    return rank(ta) < rank(tb);
  }
  if (ta == LUA_TNUMBER) return lua_compare(L, a, b, LUA_OPLT) != 0;
  if (ta != LUA_TSTRING) return false;
  size_t na = 0, nb = 0;
  const char* sa = lua_tolstring(L, a, &na);  // strings already: nothing is converted
  const char* sb = lua_tolstring(L, b, &nb);
  const int c = std::memcmp(sa, sb, na < nb ? na : nb);
  return c < 0 || (c == 0 && na < nb);
}

// host.unknown_field(t, known): the least key of table `t` that `known` lacks (key_before),
// or nil; false when `t` has a metatable (the caller walks it with pairs, as the script
// would). One raw pass that allocates nothing: it checks the options of every call, where
// the sandbox's ordered pairs cost a sort per call. The answer does not depend on hash order.
int unknown_field(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_getmetatable(L, 1)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushnil(L);  // 3: the least unknown key so far
  lua_pushnil(L);  // 4: lua_next's key
  uint64_t keys = 0;
  while (lua_next(L, 1) != 0) {
    ++keys;
    lua_pop(L, 1);  // the value
    lua_pushvalue(L, 4);
    const bool known = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (!known && (lua_isnil(L, 3) || key_before(L, 4, 3))) {
      lua_pushvalue(L, 4);
      lua_replace(L, 3);
    }
  }
  // Charged as the Lua loop it replaces would be (a few instructions a key).
  LuaState* state = LuaState::from(L);
  if (state != nullptr && !state->charge(keys * 4))
    return detail::raise_limit(L, state->kill_reason());
  return 1;  // slot 3
}

// Registry key of the prelude's `execution` function, kept so that each execution of a
// reused state gets a module of its own (renew).
const char kExecutionKey = 0;

// Calls `execution` in the current execution's turn: a new module (its own tools, ports,
// loaded modules) and environment (its `require`), referenced in `in` and the execution.
// The references are taken in the state's own turn: the registry is every execution's, and
// its growth charged to one would keep that one pinned after it ends. The caller makes the
// execution current again (run_install).
void instantiate(lua_State* L, Install* in) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kExecutionKey);
  lua_call(L, 0, 1);
  const int api = lua_gettop(L);
  lua_getfield(L, api, "require");
  push_execution_env(L);
  LuaState* state = LuaState::from(L);
  Execution* execution = state->current();
  state->make_own_current();
  execution->set_environment(luaL_ref(L, LUA_REGISTRYINDEX));
  in->api.boot = take_ref(L, api, "boot");
  in->api.call = take_ref(L, api, "call");
  in->api.tools = take_ref(L, api, "tools");
  in->api.ports = take_ref(L, api, "ports");
  lua_pop(L, 1);
}

// Drops the current execution's module and environment (`in` holds the module's references).
void drop_instance(lua_State* L, Install* in) {
  for (int ref : {in->api.boot, in->api.call, in->api.tools, in->api.ports})
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
  in->api = ScriptApi{};
  Execution* execution = LuaState::from(L)->current();
  luaL_unref(L, LUA_REGISTRYINDEX, execution->environment());
  execution->set_environment(kNoRef);
}

// Arg 1: Install* holding the old module's references. Runs under lua_pcall.
int renew(lua_State* L) {
  auto* in = static_cast<Install*>(lua_touserdata(L, 1));
  drop_instance(L, in);
  instantiate(L, in);
  return 0;
}

// Arg 1: Install*. Runs under lua_pcall.
int open_instance(lua_State* L) {
  instantiate(L, static_cast<Install*>(lua_touserdata(L, 1)));
  return 0;
}

// Arg 1: Install*. Runs under lua_pcall.
int close_instance(lua_State* L) {
  drop_instance(L, static_cast<Install*>(lua_touserdata(L, 1)));
  return 0;
}

// Arg 1: Install*. Runs under lua_pcall.
int install(lua_State* L) {
  auto* in = static_cast<Install*>(lua_touserdata(L, 1));
  enable_json_views(L);  // the stdlib's read-only units cross as their data
  load_prelude(L);
  lua_newtable(L);  // the prelude's own, empty environment: it uses only its arguments
  lua_setupvalue(L, -2, 1);
  lua_createtable(L, 0, static_cast<int>(std::size(kPrimitives)));
  for (const Primitive& p : kPrimitives) {
    push_syscall(L, p.op);
    lua_setfield(L, -2, p.name);
  }
  // {kind = true} of the kinds a library lets through (error_kind.h has the one rule).
  lua_newtable(L);
  for (const ErrorKindRow& row : kErrorKinds) {
    if (!passes_through_libraries(row)) continue;
    lua_pushlstring(L, row.name.data(), row.name.size());
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
  }
  lua_setfield(L, -2, "passing_kinds");
  lua_pushcfunction(L, unknown_field);
  lua_setfield(L, -2, "unknown_field");
  push_sandbox_env(L);
  lua_call(L, 2, 1);  // the prelude's main chunk returns `execution`
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kExecutionKey);
  instantiate(L, in);
  return 0;
}

Result<ScriptApi> run_install(LuaState& state, lua_CFunction step, Install& in) {
  LuaState::Scope turn(state, state.current());  // instantiate leaves the state's own current
  lua_State* L = state.state();
  lua_pushcfunction(L, step);
  lua_pushlightuserdata(L, &in);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char* message = lua_tostring(L, -1);
    Status error = Status::internal("installing the artana module failed: {}",
                                    message != nullptr ? message : "(no message)");
    lua_pop(L, 1);
    return error;
  }
  return in.api;
}

}  // namespace

Result<ScriptApi> install_script_api(LuaState& state, SyscallHandler* handler) {
  state.set_handler(handler);
  Install in{};
  return run_install(state, install, in);
}

Result<ScriptApi> renew_script_api(LuaState& state, const ScriptApi& old) {
  Install in{old};
  return run_install(state, renew, in);
}

Result<ScriptApi> open_script_execution(LuaState& state, Execution* execution) {
  LuaState::Scope turn(state, execution);
  Install in{};
  return run_install(state, open_instance, in);
}

void close_script_execution(LuaState& state, Execution* execution, ScriptApi& api) {
  LuaState::Scope turn(state, execution);
  Install in{api};
  api = ScriptApi{};
  // luaL_unref of a reference it made allocates nothing, so this cannot fail.
  (void)run_install(state, close_instance, in);
}

}  // namespace artana::lua
