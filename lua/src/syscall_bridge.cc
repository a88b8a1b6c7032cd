#include "artana/lua/syscall_bridge.h"

#include <lua.hpp>

#include <cstdio>
#include <cstring>
#include <new>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/sandbox.h"
#include "chunk_load.h"
#include "lua_log.h"
#include "sandbox_internal.h"
#include "sandbox_raise.h"
#include "thread_tags.h"

namespace artana::lua {
namespace {

constexpr std::string_view kNames[] = {
    "model",    "tool",    "pause",       "now",    "random",         "sleep",  "summary",
    "artifact", "version", "replaying",   "id",     "step",           "step",   "step",
    "scope",    "scope",   "parallel",    "memory", "lookup",         "child",  "ready",
    "require",  "fail",    "param_count", "array",  "canonical_json", "sha256",
};
static_assert(std::size(kNames) == static_cast<size_t>(SyscallOp::kSha256) + 1);

int return_reply(lua_State* L, SyscallReply& reply);
int make_syscall(lua_State* L, SyscallOp op);

// Continuation of a deferred syscall: resumed with no values, its arguments still on the
// stack, it is made again — to the handler the state has now.
int redispatch_k(lua_State* L, int /*status*/, lua_KContext ctx) {
  detail::raise_if_killed(L);
  return make_syscall(L, static_cast<SyscallOp>(ctx));
}

// Continuation of a syscall that waited: the host resumed with (ok, value-or-error), or
// with a reply it held back (push_held_reply) to be returned as if it came at once.
int syscall_k(lua_State* L, int /*status*/, lua_KContext /*ctx*/) {
  if (lua_touserdata(L, -2) == &detail::kHeldReplySentinel) {
    auto* reply = static_cast<SyscallReply*>(lua_touserdata(L, -1));
    lua_pop(L, 2);
    return return_reply(L, *reply);
  }
  if (lua_toboolean(L, -2)) return 1;
  return lua_error(L);  // the error table the host built; `where` is already the script's
}

// Arg 1: the SyscallReply (light userdata). Loads its source as text into the sandbox.
int load_reply_chunk(lua_State* L) {
  auto* reply = static_cast<SyscallReply*>(lua_touserdata(L, 1));
  if (detail::load_text_chunk(L, reply->source, reply->chunkname.c_str()) != LUA_OK)
    return lua_error(L);  // the syntax error, "file:line: message"
  push_sandbox_env(L);
  lua_setupvalue(L, -2, 1);  // a main chunk's only upvalue is _ENV
  return 1;
}

// Copies a C string into a fixed buffer (nullptr: `fallback`), cut to fit.
void copy_text(char* out, size_t size, const char* text, const char* fallback) {
  std::snprintf(out, size, "%s", text != nullptr ? text : fallback);
}

// A BoundaryError in a full userdata on L's stack: it must outlive this C frame's raise,
// and a userdata is collected like any other Lua value.
BoundaryError* scratch_error(lua_State* L) {
  void* memory = lua_newuserdatauv(L, sizeof(BoundaryError), 0);
  return new (memory) BoundaryError();  // trivially destructible: nothing to run later
}

// The handler behind a noexcept wall: a C++ exception must never unwind through Lua's frames
// (STYLE.md §5). One thrown (a bug: a Json accessor on the wrong type, bad_alloc) becomes an
// `internal` error raised in the calling script, for that run only.
SyscallReply& dispatch(SyscallHandler* handler, lua_State* L, SyscallOp op) noexcept {
  static thread_local SyscallReply failed;
  // Copied while the exception lives: its what() dies with it at the end of the handler.
  char what[512] = "an unknown exception";
  try {
    return handler->handle(L, op);
  } catch (const std::exception& e) {
    std::snprintf(what, sizeof what, "%s", e.what());
  } catch (...) {
  }
  try {
    lua_log().error("syscall {} threw: {}; raised as kind=internal in the script",
                    kNames[static_cast<size_t>(op)], what);
  } catch (...) {
  }
  failed.kind = SyscallReply::Kind::kError;
  // Its buffer made once per thread and kept; without it (no memory) the bridge raises a
  // fixed `internal` error instead.
  if (!failed.error) failed.error.reset(new (std::nothrow) BoundaryError());
  if (failed.error) {
    *failed.error = BoundaryError::make(error_kind_name(ErrorKind::kInternal), "");
    std::snprintf(failed.error->message, sizeof failed.error->message,
                  "run:%s failed inside the host: %s", kNames[static_cast<size_t>(op)].data(),
                  what);
  }
  return failed;
}

// The pure helpers artana.canonical_json and artana.sha256: their text in a thread-local
// buffer (call_syscall's frame may longjmp and holds no destructor), or an error.
struct HelperText {
  std::string text;
  BoundaryError error;
  bool ok = false;
};

HelperText& helper_text(lua_State* L, SyscallOp op) noexcept {
  static thread_local HelperText out;
  out.ok = false;
  try {
    if (op == SyscallOp::kSha256) {
      if (lua_type(L, 1) != LUA_TSTRING) {
        out.error = BoundaryError::make(error_kind_name(ErrorKind::kInvalidArgument),
                                        "artana.sha256(s): s must be a string");
        return out;
      }
      size_t size = 0;
      const char* bytes = lua_tolstring(L, 1, &size);
      out.text = kernel::Sha256::of(std::string_view(bytes, size)).hex();
      out.ok = true;
      return out;
    }
    Result<kernel::Json> value = to_json(L, 1, "value");
    Result<std::string> text =
        value.ok() ? kernel::canonical_json(*value, "value") : Result<std::string>(value.status());
    if (!text.ok()) {
      out.error = BoundaryError::make(error_kind_name(ErrorKind::kInvalidArgument),
                                      "artana.canonical_json: " + text.status().message());
      return out;
    }
    out.text = std::move(*text);
    out.ok = true;
  } catch (const std::exception& e) {
    out.error = BoundaryError::make(error_kind_name(ErrorKind::kInternal), e.what());
  }
  return out;
}

// The syscall's results from its reply: pushed and counted, a wait yielded, an error raised.
// No C++ object with a destructor lives in this frame: every exit may be a longjmp.
int return_reply(lua_State* L, SyscallReply& reply) {
  switch (reply.kind) {
    case SyscallReply::Kind::kNothing:
      return 0;
    case SyscallReply::Kind::kFlag:
      lua_pushboolean(L, reply.flag);
      return 1;
    case SyscallReply::Kind::kCount2:
      lua_pushinteger(L, reply.count);
      lua_pushboolean(L, reply.flag);
      return 2;
    case SyscallReply::Kind::kValue:
      if (push_json(L, reply.value) != LUA_OK) return lua_error(L);
      return 1;
    case SyscallReply::Kind::kFlagValue:
      lua_pushboolean(L, reply.flag);
      if (push_json(L, reply.value) != LUA_OK) return lua_error(L);
      return 2;
    case SyscallReply::Kind::kWait:
      lua_pushlightuserdata(L, const_cast<char*>(&detail::kSyscallSentinel));
      return lua_yieldk(L, 1, 0, syscall_k);
    case SyscallReply::Kind::kChunk:
      lua_pushcfunction(L, load_reply_chunk);
      lua_pushlightuserdata(L, &reply);
      lua_call(L, 1, 1);
      return 1;
    case SyscallReply::Kind::kRecordedValue: {
      const char* problem = "";  // static text: nothing to free before the raise below
      const int status = push_object_members(L, reply.source, reply.members, reply.value, &problem);
      if (status == LUA_OK) return 1;
      if (status != LUA_ERRSYNTAX) return lua_error(L);
      // Bytes that hash right and are not JSON: the ledger was edited and hashed again.
      BoundaryError* e = scratch_error(L);
      copy_text(e->kind, sizeof e->kind, error_kind_name(ErrorKind::kStorageError).data(), "");
      std::snprintf(e->message, sizeof e->message,
                    "corruption: the recorded result of step '%s' is not a JSON object (%s); "
                    "run `artana ledger verify`",
                    reply.chunkname.c_str(), problem);
      copy_text(e->step_key, sizeof e->step_key, reply.chunkname.c_str(), "");
      write_where(L, 0, e->where, sizeof e->where);
      return raise_error(L, *e);
    }
    case SyscallReply::Kind::kDefer: {  // make_syscall yields it: a held reply cannot be
      BoundaryError* e = scratch_error(L);
      *e = BoundaryError::make(error_kind_name(ErrorKind::kInternal),
                               "a held syscall reply was deferred");
      return raise_error(L, *e);
    }
    case SyscallReply::Kind::kError: {
      BoundaryError* e = reply.error.get();
      if (e == nullptr) {  // its buffer could not be made (SyscallReply::error)
        e = scratch_error(L);
        copy_text(e->kind, sizeof e->kind, error_kind_name(ErrorKind::kInternal).data(), "");
        copy_text(e->message, sizeof e->message, "out of memory in the host", "");
      }
      if (e->where[0] == '\0') write_where(L, 0, e->where, sizeof e->where);
      return raise_error(L, *e);
    }
  }
  return 0;
}

// Upvalue 1: the op (integer). The handler is the state's (LuaState::set_handler): a state
// made ahead of its run is bound to it when the run takes it.
// No C++ object with a destructor lives in this frame: every exit may be a longjmp.
int call_syscall(lua_State* L) {
  const auto op = static_cast<SyscallOp>(lua_tointeger(L, lua_upvalueindex(1)));
  detail::raise_if_killed(L);
  if (op < SyscallOp::kReady && !detail::reaches_host(L, LuaState::from(L))) {
    return detail::raise_violation(
        L,
        "run:%s cannot be called here: syscalls may wait, and this code cannot (a table.sort "
        "comparator, a string.gsub callback, a __tostring or other metamethod called from C, "
        "or a coroutine resumed from one)",
        kNames[static_cast<size_t>(op)].data());
  }
  switch (op) {  // the module's helpers need no host
    case SyscallOp::kFail: {
      BoundaryError* e = scratch_error(L);
      copy_text(e->kind, sizeof e->kind, lua_tostring(L, 1),
                error_kind_name(ErrorKind::kScriptError).data());
      copy_text(e->message, sizeof e->message, lua_tostring(L, 2), "error");
      write_where(L, 0, e->where, sizeof e->where);
      return raise_error(L, *e);
    }
    case SyscallOp::kParamCount: {
      luaL_checktype(L, 1, LUA_TFUNCTION);
      lua_Debug ar;
      lua_pushvalue(L, 1);
      lua_getinfo(L, ">u", &ar);
      lua_pushinteger(L, ar.nparams);
      lua_pushboolean(L, ar.isvararg);
      return 2;
    }
    case SyscallOp::kMarkArray:
      luaL_checktype(L, 1, LUA_TTABLE);
      mark_array(L, 1);
      return 0;
    case SyscallOp::kCanonicalJson:
    case SyscallOp::kSha256: {
      HelperText& out = helper_text(L, op);
      if (!out.ok) {
        write_where(L, 0, out.error.where, sizeof out.error.where);
        return raise_error(L, out.error);
      }
      lua_pushlstring(L, out.text.data(), out.text.size());
      return 1;
    }
    default:
      break;
  }
  return make_syscall(L, op);
}

// The state's handler's answer to `op`, its arguments at 1..top: returned, or deferred — a
// yield the host resumes to make the same syscall again (redispatch_k).
// No C++ object with a destructor lives in this frame: every exit may be a longjmp.
int make_syscall(lua_State* L, SyscallOp op) {
  LuaState* state = LuaState::from(L);
  SyscallHandler* handler = state != nullptr ? state->handler() : nullptr;
  if (handler == nullptr) {
    BoundaryError* e = scratch_error(L);
    *e = BoundaryError::make(error_kind_name(ErrorKind::kInternal),
                             "a syscall in a state no run is bound to");
    return raise_error(L, *e);
  }
  SyscallReply& reply = dispatch(handler, L, op);
  if (reply.kind != SyscallReply::Kind::kDefer) return return_reply(L, reply);
  if (!lua_isyieldable(L) || !detail::reaches_host(L, state) || !lua_checkstack(L, 2)) {
    BoundaryError* e = scratch_error(L);
    *e = BoundaryError::make(error_kind_name(ErrorKind::kInternal), "");
    std::snprintf(e->message, sizeof e->message,
                  "run:%s was deferred where its thread cannot yield to the host",
                  kNames[static_cast<size_t>(op)].data());
    return raise_error(L, *e);
  }
  lua_pushlightuserdata(L, const_cast<char*>(&detail::kSyscallSentinel));
  lua_pushlightuserdata(L, const_cast<char*>(&detail::kDeferredSentinel));
  return lua_yieldk(L, 2, static_cast<lua_KContext>(op), redispatch_k);
}

struct ResumeValues {
  lua_State* thread;
  const kernel::Json* value;
  const BoundaryError* error;
};

// Arg 1: ResumeValues. Builds (ok, value) on this (running) thread, then moves them.
int build_resume_values(lua_State* L) {
  auto* values = static_cast<ResumeValues*>(lua_touserdata(L, 1));
  if (values->error != nullptr) {
    lua_pushboolean(L, 0);
    push_error(L, *values->error);
  } else {
    lua_pushboolean(L, 1);
    if (push_json(L, *values->value) != LUA_OK) return lua_error(L);
  }
  if (!lua_checkstack(values->thread, 2)) return luaL_error(L, "stack overflow");
  lua_xmove(L, values->thread, 2);
  return 0;
}

}  // namespace

bool is_syscall_yield(lua_State* thread, int nresults) {
  return nresults > 0 && lua_touserdata(thread, -nresults) == &detail::kSyscallSentinel;
}

bool is_deferred_yield(lua_State* thread, int nresults) {
  return nresults > 1 && is_syscall_yield(thread, nresults) &&
         lua_touserdata(thread, -nresults + 1) == &detail::kDeferredSentinel;
}

std::string_view syscall_name(SyscallOp op) { return kNames[static_cast<size_t>(op)]; }

void push_syscall(lua_State* L, SyscallOp op) {
  lua_pushinteger(L, static_cast<lua_Integer>(op));
  lua_pushcclosure(L, call_syscall, 1);
}

int push_resume_values(lua_State* main, lua_State* thread, const kernel::Json* value,
                       const BoundaryError* error) {
  ResumeValues values{thread, value, error};
  lua_pushcfunction(main, build_resume_values);
  lua_pushlightuserdata(main, &values);
  if (lua_pcall(main, 1, 0, 0) != LUA_OK) {
    lua_pop(main, 1);
    if (LuaState* state = LuaState::from(main)) state->mark_killed("memory limit");
    return -1;
  }
  return 2;
}

int push_held_reply(lua_State* thread, SyscallReply* reply) {
  if (!lua_checkstack(thread, 2)) return -1;
  lua_pushlightuserdata(thread, const_cast<char*>(&detail::kHeldReplySentinel));
  lua_pushlightuserdata(thread, reply);
  return 2;
}

}  // namespace artana::lua
