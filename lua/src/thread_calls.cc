#include "artana/lua/thread_calls.h"

#include <lua.hpp>

#include <optional>

#include "artana/kernel/canonical_json.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/sandbox.h"
#include "chunk_load.h"

namespace artana::lua {
namespace {

struct PrepareCall {
  lua_State* thread;
  int body_ref;
  int table_ref;
  std::string_view name;
  std::string_view field;
  int index;
  const std::vector<CallArg>* args;
  bool missing = false;
};

// Arg 1: PrepareCall*. Builds body, fn, args on this thread, then moves them.
int build_call(lua_State* L) {
  auto* call = static_cast<PrepareCall*>(lua_touserdata(L, 1));
  const int base = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, call->body_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, call->table_ref);
  if (call->name.empty()) {
    lua_rawgeti(L, -1, call->index);
  } else {
    lua_pushlstring(L, call->name.data(), call->name.size());
    lua_rawget(L, -2);
    if (!call->field.empty() && lua_type(L, -1) == LUA_TTABLE) {
      lua_pushlstring(L, call->field.data(), call->field.size());
      lua_rawget(L, -2);
      lua_remove(L, -2);
    }
  }
  lua_remove(L, -2);  // the table
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    call->missing = true;
    lua_settop(L, base);
    return 0;
  }
  for (const CallArg& arg : *call->args) {
    if (arg.json != nullptr) {
      if (push_json(L, *arg.json) != LUA_OK) return lua_error(L);
    } else {
      lua_rawgeti(L, LUA_REGISTRYINDEX, arg.ref);
    }
  }
  const int count = lua_gettop(L) - base;
  if (!lua_checkstack(call->thread, count)) return luaL_error(L, "stack overflow");
  lua_xmove(L, call->thread, count);
  return 0;
}

struct PrepareChunk {
  lua_State* thread;
  int body_ref;
  std::string_view chunk;
  std::string chunkname;
};

int build_chunk(lua_State* L) {
  auto* p = static_cast<PrepareChunk*>(lua_touserdata(L, 1));
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->body_ref);
  if (detail::load_text_chunk(L, p->chunk, p->chunkname.c_str()) != LUA_OK) return lua_error(L);
  push_sandbox_env(L);
  lua_setupvalue(L, -2, 1);  // a main chunk's only upvalue is _ENV
  if (!lua_checkstack(p->thread, 2)) return luaL_error(L, "stack overflow");
  lua_xmove(L, p->thread, 2);
  return 0;
}

struct TakeRefs {
  int count;
  int* refs;
};

int build_refs(lua_State* L) {
  auto* t = static_cast<TakeRefs*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  for (int i = t->count - 1; i >= 0; --i) t->refs[i] = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int build_traceback(lua_State* L) {
  luaL_traceback(L, static_cast<lua_State*>(lua_touserdata(L, 1)), nullptr, 0);
  return 1;
}

struct Results {
  lua_State* target;
  const std::vector<lua_State*>* sources;
};

int build_results(lua_State* L) {
  auto* r = static_cast<Results*>(lua_touserdata(L, 1));
  lua_pushboolean(L, 1);
  lua_createtable(L, static_cast<int>(r->sources->size()), 0);
  int i = 0;
  for (lua_State* source : *r->sources) {
    lua_xmove(source, L, 1);
    lua_rawseti(L, -2, ++i);
  }
  if (!lua_checkstack(r->target, 2)) return luaL_error(L, "stack overflow");
  lua_xmove(L, r->target, 2);
  return 0;
}

Status out_of_memory(lua_State* main) {
  lua_pop(main, 1);
  if (LuaState* state = LuaState::from(main)) state->mark_killed("memory limit");
  return Status::failed_precondition("memory limit exceeded").with_kind(ErrorKind::kLimitExceeded);
}

}  // namespace

Result<int> prepare_call(lua_State* main, lua_State* thread, int body_ref, int table_ref,
                         std::string_view name, std::string_view field, int index,
                         const std::vector<CallArg>& args) {
  PrepareCall call{thread, body_ref, table_ref, name, field, index, &args};
  lua_pushcfunction(main, build_call);
  lua_pushlightuserdata(main, &call);
  if (lua_pcall(main, 1, 0, 0) != LUA_OK) return out_of_memory(main);
  if (call.missing) return Status::not_found("no function '{}' to call", name);
  return static_cast<int>(args.size()) + 1;
}

Status prepare_chunk(lua_State* main, lua_State* thread, int body_ref, std::string_view chunk,
                     std::string_view chunkname) {
  PrepareChunk p{thread, body_ref, chunk, "=" + std::string(chunkname)};
  lua_pushcfunction(main, build_chunk);
  lua_pushlightuserdata(main, &p);
  const int status = lua_pcall(main, 1, 0, 0);
  if (status == LUA_ERRSYNTAX || (status == LUA_ERRRUN && lua_type(main, -1) == LUA_TSTRING)) {
    Status error =
        Status::invalid_argument("{}", lua_tostring(main, -1)).with_kind(ErrorKind::kScriptError);
    lua_pop(main, 1);
    return error;
  }
  if (status != LUA_OK) return out_of_memory(main);
  return Status();
}

void take_refs(lua_State* main, int count, int* refs_out) {
  for (int i = 0; i < count; ++i) refs_out[i] = LUA_NOREF;
  TakeRefs t{count, refs_out};
  lua_pushcfunction(main, build_refs);
  lua_insert(main, -(count + 1));
  lua_pushlightuserdata(main, &t);
  // The registry is every execution's: its growth is the state's own, or the first run to
  // grow it would stay pinned by it after it ends.
  std::optional<LuaState::Scope> own;
  if (LuaState* state = LuaState::from(main)) own.emplace(*state, state->own_execution());
  const int status = lua_pcall(main, count + 1, 0, 0);
  own.reset();
  if (status != LUA_OK) {
    lua_pop(main, 1);
    for (int i = 0; i < count; ++i) refs_out[i] = LUA_NOREF;
  }
}

void release_ref(lua_State* main, int ref) {
  if (ref != LUA_NOREF && ref != LUA_REFNIL) luaL_unref(main, LUA_REGISTRYINDEX, ref);
}

std::string traceback_of(lua_State* main, lua_State* thread) {
  lua_pushcfunction(main, build_traceback);
  lua_pushlightuserdata(main, thread);
  if (lua_pcall(main, 1, 1, 0) != LUA_OK) {
    lua_pop(main, 1);
    return {};
  }
  size_t size = 0;
  const char* text = lua_tolstring(main, -1, &size);
  // A chunk name or function name may hold any bytes; the traceback is recorded as JSON.
  std::string result = kernel::readable_text(std::string_view(text != nullptr ? text : "", size));
  lua_pop(main, 1);
  return result;
}

int push_results_array(lua_State* main, lua_State* target, const std::vector<lua_State*>& sources) {
  Results r{target, &sources};
  lua_pushcfunction(main, build_results);
  lua_pushlightuserdata(main, &r);
  if (lua_pcall(main, 1, 0, 0) != LUA_OK) {
    (void)out_of_memory(main);
    return -1;
  }
  return 2;
}

}  // namespace artana::lua
