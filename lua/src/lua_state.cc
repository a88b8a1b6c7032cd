#include "artana/lua/lua_state.h"

#include <lua.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "artana/lua/lua_error.h"
#include "artana/lua/lua_json.h"
#include "chunk_load.h"
#include "kill_reasons.h"
#include "lua_log.h"
#include "sandbox_raise.h"
#include "thread_tags.h"

static_assert(artana::lua::kNoRef == LUA_NOREF);

namespace artana::lua {
namespace {

using detail::kInterrupted;
using detail::kKilled;
using detail::kMemoryLimit;

using detail::is_host_thread;
using detail::reaches_host;
using detail::set_thread_tag;

struct Init {
  const SandboxOptions* options;
};

// Lua calls this for an error outside any protected call, then abort()s unless it never
// returns: it logs, kills the state and unwinds to the host (LuaPanic).
int on_panic(lua_State* L) {
  const char* message = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "an error value";
  std::string text = std::string("lua panic (an error outside any protected call): ") + message;
  lua_log().error("lua panic; the run's state is killed, the host goes on: {}", message);
  if (LuaState* state = LuaState::from(L)) state->mark_killed("lua panic");
  throw LuaPanic(text);
}

int init_state(lua_State* L) {  // runs under lua_pcall: raising here is a status
  auto* init = static_cast<Init*>(lua_touserdata(L, 1));
  install_sandbox(L, *init->options);
  return 0;
}

// Anchors a new thread in the registry (thread -> true) so the GC keeps it. The thread is
// the current execution's; the registry's growth is the state's own (shared by every
// execution, it would pin the first to grow it). The caller restores the current execution.
int make_thread(lua_State* L) {
  lua_State* co = lua_newthread(L);
  LuaState::from(L)->make_own_current();
  lua_pushvalue(L, -1);
  lua_pushboolean(L, 1);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, co);
  return 1;
}

struct Chunk {
  const char* source;
  size_t size;
  const char* name;
};

// Arg 1: Chunk*, arg 2: the thread. Loads the chunk as text onto the thread's stack with
// _ENV = the sandbox environment.
int load_chunk(lua_State* L) {
  auto* chunk = static_cast<Chunk*>(lua_touserdata(L, 1));
  lua_State* co = lua_tothread(L, 2);
  if (detail::load_text_chunk(L, {chunk->source, chunk->size}, chunk->name) != LUA_OK)
    return lua_error(L);  // the syntax error message
  push_sandbox_env(L);
  lua_setupvalue(L, -2, 1);  // a main chunk's only upvalue is _ENV
  lua_xmove(L, co, 1);
  return 0;
}

// Arg 1: an error value. Returns kind, message as strings without calling metamethods.
int describe_error(lua_State* L) {
  if (lua_type(L, 1) == LUA_TTABLE) {
    lua_pushliteral(L, "kind");
    lua_rawget(L, 1);
    lua_pushliteral(L, "message");
    lua_rawget(L, 1);
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) return 2;
    lua_settop(L, 1);
  }
  push_kind(L, ErrorKind::kScriptError);
  if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
    lua_pushvalue(L, 1);
  else
    lua_pushfstring(L, "error object is a %s value", luaL_typename(L, 1));
  return 2;
}

Status status_for(ErrorKind kind, std::string message) {
  if (kind == ErrorKind::kLimitExceeded)
    return Status::failed_precondition("{}", message).with_kind(kind);
  if (kind == ErrorKind::kSandboxViolation)
    return Status::permission_denied("{}", message).with_kind(kind);
  return Status::invalid_argument("{}", message).with_kind(kind);
}

}  // namespace

Result<std::unique_ptr<LuaState>> LuaState::create(const LuaLimits& limits,
                                                   const SandboxOptions& options) {
  std::unique_ptr<LuaState> self;
  try {
    self.reset(new LuaState(limits));
  } catch (const std::bad_alloc&) {
    return Status::failed_precondition("no memory for a Lua state")
        .with_kind(ErrorKind::kLimitExceeded);
  }
  self->L_ = lua_newstate(&LuaState::alloc, self.get());
  if (self->L_ == nullptr)
    return Status::failed_precondition("lua_newstate failed: memory limit {} bytes too small",
                                       limits.max_memory_bytes)
        .with_kind(ErrorKind::kLimitExceeded);
  lua_atpanic(self->L_, on_panic);
  // Generational: a step's garbage (its request and result tables, their strings) dies
  // young, and a minor collection never walks the script's long-lived state again. Measured:
  // 1-3 % off a replayed or live model step (docs/benchmarks.md). Lua 5.4.4's known
  // generational-mode bug (fixed upstream in a1f77a2, "set correct pause when (re)entering
  // gen. collection") mistimes the next collection after a major one: it changes when memory
  // is collected, never what; the allocator's limit holds either way.
  lua_gc(self->L_, LUA_GCGEN, 0, 0);
  set_thread_tag(self->L_, nullptr);
  Init init{&options};
  lua_pushcfunction(self->L_, init_state);  // [-0,+1,-]: light C function, no allocation
  lua_pushlightuserdata(self->L_, &init);
  if (lua_pcall(self->L_, 1, 0, 0) != LUA_OK) {
    const char* msg = lua_tostring(self->L_, -1);
    return Status::internal("installing the sandbox failed: {}", msg ? msg : "?");
  }
  // Threads inherit the creator's hook (lua_newthread copies it), so script coroutines
  // are counted too.
  lua_sethook(self->L_, &LuaState::hook, LUA_MASKCOUNT, self->hook_count());
  return self;
}

int LuaState::hook_count() const {
  return static_cast<int>(
      std::min<uint32_t>(std::max<uint32_t>(limits_.slice_instructions, 1), kHookEvery));
}

LuaState::LuaState(const LuaLimits& limits) : limits_(limits) {
  own_ = open_execution(limits);
  if (own_ == nullptr) throw std::bad_alloc();
  current_ = own_;
}

LuaState::~LuaState() {
  if (L_ != nullptr) lua_close(L_);  // frees every block, crediting its execution
  while (first_ != nullptr) {
    Execution* next = first_->next_;
    delete first_;
    first_ = next;
  }
}

LuaState* LuaState::from(lua_State* L) {
  void* ud = nullptr;
  if (lua_getallocf(L, &ud) != &LuaState::alloc) return nullptr;
  return static_cast<LuaState*>(ud);
}

void LuaState::hook(lua_State* L, lua_Debug* ar) {
  if (ar->event != LUA_HOOKCOUNT) return;
  LuaState* self = from(L);
  if (self == nullptr) return;
  Execution* run = self->current_;  // whose code this is
  run->charge(static_cast<uint64_t>(lua_gethookcount(L)));
  if (run->kill_requested()) run->mark_killed(kKilled);
  if (self->limits_.interrupt != nullptr &&
      self->limits_.interrupt->load(std::memory_order_relaxed)) {
    run->mark_killed(kInterrupted);
  }
  if (run->out_of_memory_) run->mark_killed(kMemoryLimit);
  if (run->killed()) {
    if (is_host_thread(L, self) && lua_isyieldable(L)) {
      lua_yield(L, 0);  // from a hook this returns (no longjmp); the host never resumes
      return;
    }
    // Cannot yield here: raise, and fire on every instruction so that any code the error
    // does reach (a __close handler, a message handler) is stopped again at once.
    lua_sethook(L, &LuaState::hook, LUA_MASKCOUNT, 1);
    // This frame and luaD_hook's hold no C++ objects.
    detail::raise_limit(L, run->kill_reason());
    return;
  }
  // A slice yield from a script coroutine reaches the host only when every resume between
  // here and the host thread can pass it up (thread_tags.h); elsewhere the slice is skipped.
  // So is one where Lua cannot yield (a message handler, a __close handler, a metamethod
  // called from C): lua_yield would raise there, and an error raised from a hook leaves
  // hooks off for the message handler it reaches (ldo.c restores them only at the pcall).
  run->slice_used_ += static_cast<uint64_t>(lua_gethookcount(L));
  if (run->slice_used_ < self->limits_.slice_instructions &&
      std::chrono::steady_clock::now() < run->slice_deadline_) {
    return;  // the slice goes on
  }
  if (lua_isyieldable(L) && reaches_host(L, self)) {
    run->yielded_for_slice_ = true;
    lua_yield(L, 0);
  }
}

// Arg 1: a thread. Drops its registry anchor so the collector may free it.
static int unanchor_thread(lua_State* L) {
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return 0;
}

bool LuaState::recycle() {
  Execution* run = current_;
  if (run->killed() || run->kill_requested()) return false;
  lua_settop(L_, 0);
  // The host threads are the registry's thread keys (make_thread). Assigning nil to a field
  // during lua_next is allowed, and neither allocates nor raises.
  lua_pushnil(L_);
  while (lua_next(L_, LUA_REGISTRYINDEX) != 0) {
    lua_pop(L_, 1);  // the value
    if (lua_type(L_, -1) != LUA_TTHREAD) continue;
    set_thread_tag(lua_tothread(L_, -1), nullptr);
    lua_pushvalue(L_, -1);
    lua_pushnil(L_);
    lua_rawset(L_, LUA_REGISTRYINDEX);
  }
  if (run->memory_used() > run->limits().max_memory_bytes / 4) lua_gc(L_, LUA_GCCOLLECT);
  run->reset_counters();
  return true;
}

void LuaState::release_thread(lua_State* co) {
  set_thread_tag(co, nullptr);  // no longer the host's: scripts holding it cannot resume it
  lua_pushcfunction(L_, unanchor_thread);
  lua_pushthread(co);
  lua_xmove(co, L_, 1);
  if (lua_pcall(L_, 1, 0, 0) != LUA_OK) lua_pop(L_, 1);  // rawset of nil never allocates
}

lua_State* LuaState::new_thread() {
  int status = LUA_OK;
  {
    Scope keep(*this, current_);  // make_thread anchors in the state's own turn
    lua_pushcfunction(L_, make_thread);
    status = lua_pcall(L_, 0, 1, 0);
  }
  if (status != LUA_OK) {
    lua_pop(L_, 1);  // the memory error
    return nullptr;
  }
  auto* co = static_cast<lua_State*>(lua_touserdata(L_, -1));
  lua_pop(L_, 1);
  set_thread_tag(co, this);
  lua_sethook(co, &LuaState::hook, LUA_MASKCOUNT, hook_count());
  return co;
}

Status LuaState::run_chunk(std::string_view source, std::string_view chunkname,
                           kernel::Json* result) {
  if (killed()) return status_for(ErrorKind::kLimitExceeded, kill_reason());
  lua_State* co = new_thread();
  if (co == nullptr) return status_for(ErrorKind::kLimitExceeded, kMemoryLimit);
  // Every Lua call below is protected (lua_pcall, lua_resume): no longjmp leaves this frame.
  const std::string name = "=" + std::string(chunkname);
  Chunk chunk{source.data(), source.size(), name.c_str()};
  lua_pushcfunction(L_, load_chunk);
  lua_pushlightuserdata(L_, &chunk);
  lua_pushthread(co);
  lua_xmove(co, L_, 1);
  int status = lua_pcall(L_, 2, 0, 0);
  Status conversion = Status::ok_status();  // of the chunk's result, when asked for
  if (status == LUA_OK) {
    for (;;) {
      clear_slice_flag();
      int nres = 0;
      status = lua_resume(co, L_, 0, &nres);
      if (status == LUA_YIELD && !killed() && yielded_for_slice()) {
        ++current_->slice_yields_;
        continue;
      }
      if (status == LUA_OK && result != nullptr && nres > 0) {
        Result<kernel::Json> value = to_json(co, -nres, std::string(chunkname));
        if (value.ok()) {
          *result = std::move(*value);
        } else {
          conversion = value.status().with_kind(ErrorKind::kScriptError);
        }
      }
      if (status == LUA_OK || status == LUA_YIELD) lua_pop(co, nres);
      break;
    }
    if (status == LUA_YIELD && !killed())
      return status_for(ErrorKind::kScriptError, "the chunk yielded outside a coroutine");
    if (status != LUA_OK) lua_xmove(co, L_, 1);  // the error value
  }
  if (killed()) {
    lua_settop(L_, 0);
    return status_for(ErrorKind::kLimitExceeded,
                      std::string(kill_reason()) + " exceeded in " + std::string(chunkname));
  }
  if (status == LUA_OK) return conversion;
  lua_pushcfunction(L_, describe_error);
  lua_insert(L_, -2);
  if (lua_pcall(L_, 1, 2, 0) != LUA_OK) {
    lua_settop(L_, 0);
    return status_for(ErrorKind::kScriptError, "unreadable error in " + std::string(chunkname));
  }
  // A kind no row of the table has is the script's own: a script error.
  const ErrorKind kind = parse_error_kind(lua_tostring(L_, -2)).value_or(ErrorKind::kScriptError);
  std::string message = lua_tostring(L_, -1);
  lua_settop(L_, 0);
  return status_for(kind, std::move(message));
}

}  // namespace artana::lua
