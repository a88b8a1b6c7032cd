// The syscall boundary: what a script's `run:*` calls (and the host primitives the `artana`
// module is built from) become on the C++ side.
//
// A syscall is a C closure bound to one SyscallOp and one SyscallHandler (the host). The
// closure refuses to run where a wait could not reach the host (a table.sort comparator, a
// gsub callback, __tostring: thread_tags.h) — always, not only when it would wait, so a
// script behaves the same live and on replay. It then asks the handler, which answers at
// once (a value, a recorded step, an error) or says "wait": the calling thread yields the
// syscall sentinel, the sandbox's coroutine.resume/wrap pass it up to the host thread, and
// the host later resumes that host thread with (true, value) or (false, error table)
// (push_resume_values), which the syscall returns or raises.
//
// The handler runs inside the closure with the script's arguments on the stack. It must not
// raise Lua errors (use only API calls the manual marks `-`, to_json, and protected helpers):
// the closure raises for it, after the handler's C++ objects are gone (STYLE.md §5).
//
// Threading: as for the lua_State.
#pragma once

#include "artana/lua/lua_fwd.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/lua/lua_error.h"

namespace artana::lua {

enum class SyscallOp : uint8_t {
  // run:* methods (argument 1 is the run object)
  kModel,
  kTool,
  kPause,
  kNow,
  kRandom,
  kSleep,
  kSummary,
  kArtifact,
  kVersion,
  kReplaying,
  kRunId,      // run.id: the run the script's steps go to now (a fork after fork_on_drift)
  kStepBegin,  // run:step, before the function runs: (true, recorded value) or (false)
  kStepEnd,    // run:step, after it returned: records the value
  kStepAbort,  // run:step, after it raised: leaves the step without recording
  kScopeEnter,
  kScopeExit,
  kParallel,
  kMemory,  // run:memory(): the heap in bytes, recorded like run:now()
  kLookup,  // run:lookup{kind, scope, limit}: the latest keyed summaries, recorded
  kChild,   // run:child(script, options): a child run, as a step
  // host primitives of the `artana` module
  kReady,          // the entry chunk ran: register tools and ports, start or resume the run
  kLoadModule,     // require: the module's source, loaded as a sandboxed text chunk
  kFail,           // raise an error table naming the script's line (module argument checks)
  kParamCount,     // (nparams, is_vararg) of a Lua function
  kMarkArray,      // gives a table the array marker (it crosses as [] when empty)
  kCanonicalJson,  // artana.canonical_json(v): RFC 8785 text of a JSON-able value
  kSha256,         // artana.sha256(s): lowercase hex SHA-256 of a string's bytes
};

// The name used in messages ("model" for run:model).
std::string_view syscall_name(SyscallOp op);

struct SyscallReply {
  enum class Kind {
    kNothing,    // no results
    kValue,      // `value`
    kFlagValue,  // `flag`, then `value`
    kFlag,       // `flag` only
    kCount2,     // integers `count`, then boolean `flag` (kParamCount)
    kWait,       // the thread waits; the host resumes it later
    kError,      // raise `error`
    kChunk,      // load `source` as a text chunk named `chunkname` and return the function
    // `source` is the JSON text of an object (a recorded result): return a table of its
    // members named in `members` plus `value`'s members (push_object_members). Text that is
    // not a JSON object raises storage_error naming the step key in `chunkname`.
    kRecordedValue,
    // Not answered here: the thread yields (is_deferred_yield) and, resumed with no values,
    // makes the same syscall again, with the same arguments, to the handler its state has
    // then. For a handler on another thread than the run's owner (a reload's catch-up),
    // which answers what it can and leaves the rest to the owner. Only where the thread's
    // yield reaches the host, as for a wait; elsewhere the bridge raises `internal`.
    kDefer,
  };
  Kind kind = Kind::kNothing;
  bool flag = false;
  int64_t count = 0;
  kernel::Json value;
  std::string source;
  std::string chunkname;
  std::span<const std::string_view> members;  // kRecordedValue
  // kError: the error raised; an empty `where` becomes the script's line. Out of line (1.7
  // KiB of fixed buffers, so it survives the raise's longjmp) and made on the first error:
  // a reply lives in every run and every held task, and most never fail. Null under kError
  // only when it could not be made: the bridge raises `internal` (out of memory) then.
  std::unique_ptr<BoundaryError> error;

  // Sets kind = kError and the error (its buffer kept for the next). May throw bad_alloc.
  void fail(const BoundaryError& raised) {
    kind = Kind::kError;
    if (!error) error = std::make_unique<BoundaryError>();
    *error = raised;
  }
};

class SyscallHandler {
 public:
  virtual ~SyscallHandler() = default;
  // L is the calling thread; its arguments are at 1..lua_gettop(L). Fills and returns a
  // reply the handler owns (valid until its next call). Must not raise (see above).
  virtual SyscallReply& handle(lua_State* L, SyscallOp op) = 0;
};

// Pushes the C closure for `op`; it calls the state's handler (LuaState::handler).
// [-0, +1, m]
void push_syscall(lua_State* L, SyscallOp op);

// Moves the values a waiting syscall returns onto `thread` (suspended in that syscall, or in
// a coroutine.resume passing it up): (true, value) or (false, error table). Builds them on
// `main` (a thread that is not suspended) inside a protected call. Returns the number of
// values to resume `thread` with (2), or -1 when memory ran out (the state is then killed).
// [-0, +0, -]
int push_resume_values(lua_State* main, lua_State* thread, const kernel::Json* value,
                       const BoundaryError* error);

// Makes `thread`, suspended in a syscall that answered kWait, return `reply` when resumed,
// as if the handler had answered with it at once (a host holding a reply back until what
// it recorded is durable). `reply` must live until then. Returns the number of values to
// resume `thread` with (2), or -1 when its stack cannot grow.   [-0, +0, -]
int push_held_reply(lua_State* thread, SyscallReply* reply);
// True when a host thread's lua_resume ended in a waiting syscall (its `nresults` yielded
// values start with the syscall sentinel), as opposed to a time slice or a script's own
// coroutine.yield at the top level.   [-0, +0, -]
bool is_syscall_yield(lua_State* thread, int nresults);
// True when that syscall was deferred (SyscallReply::kDefer): resume `thread` with no values
// to make it again.   [-0, +0, -]
bool is_deferred_yield(lua_State* thread, int nresults);

}  // namespace artana::lua
