// Which threads may yield to the host. Each thread's LUA_EXTRASPACE holds one pointer:
// - the owning LuaState: a host thread (LuaState::new_thread); the host resumes it;
// - &kReachesHost: a script coroutine last resumed (by the sandbox's coroutine.resume/wrap)
//   from a thread that could itself yield to the host, so a yield here can be passed up;
// - nullptr: anything else (the main thread, a coroutine resumed from a table.sort
//   comparator, a gsub callback, __tostring, …). Syscalls and time slices cannot leave it.
// lua_newthread copies the main thread's bytes (nullptr), so a new coroutine starts
// unreachable; the sandbox's resume sets the tag before every resume, and new_thread tags
// host threads.
#pragma once

#include <lua.hpp>

namespace artana::lua::detail {

inline const char kReachesHost = 0;
// A syscall that must wait yields this (as a light userdata) as its first value; the
// sandbox's coroutine.resume/wrap pass such a yield up instead of returning it to the script.
inline const char kSyscallSentinel = 0;
// The first resume value of a syscall whose reply the host held back (push_held_reply).
inline const char kHeldReplySentinel = 0;
// A deferred syscall (SyscallReply::kDefer) yields it after kSyscallSentinel: passed up like
// any syscall's yield, and told apart by the host (is_deferred_yield).
inline const char kDeferredSentinel = 0;

inline void* thread_tag(lua_State* L) { return *static_cast<void**>(lua_getextraspace(L)); }
inline void set_thread_tag(lua_State* L, const void* tag) {
  *static_cast<const void**>(lua_getextraspace(L)) = tag;
}

// True when L is a host thread of `owner`.
inline bool is_host_thread(lua_State* L, const void* owner) {
  return owner != nullptr && thread_tag(L) == owner;
}

// True when a yield from L (a syscall, a time slice) reaches the host's lua_resume.
inline bool reaches_host(lua_State* L, const void* owner) {
  if (!lua_isyieldable(L)) return false;
  const void* tag = thread_tag(L);
  return tag == &kReachesHost || is_host_thread(L, owner);
}

}  // namespace artana::lua::detail
