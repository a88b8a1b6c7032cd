// A step-bounded copy of Lua 5.4.4's pattern matcher (lstrlib.c) and of the string
// functions built on it: string.find, string.match, string.gmatch and string.gsub.
//
// Lua's own matcher backtracks in C, where the count hook never fires, so a pattern such
// as string.rep('a-', 15) .. 'b' on a 1 KiB subject can run for hours. This copy keeps
// lstrlib's semantics and error messages and adds one thing: every step (each entry to
// `match`, and each subject byte scanned by an expansion, %b or a back-reference) is
// charged to the owning LuaState's instruction budget, in quanta of kStepQuantum. When
// the budget is spent the state is marked killed, the matcher unwinds returning "no
// match", and the calling function raises the run's limit_exceeded kill, which the
// sandbox's pcall cannot swallow (kill_guard.cc). On a lua_State no LuaState owns, the
// matcher is unbounded, as lstrlib's is.
//
// Everything here is plain C-style data: the matcher raises with luaL_error and calls
// Lua (gsub's replacement function), so no object with a destructor may be alive
// (STYLE.md §5). Threading: as for the lua_State.
#pragma once

#include <lua.hpp>

#include <cstddef>
#include <cstdint>

namespace artana::lua {
class LuaState;
}

namespace artana::lua::detail {

// string.find, string.match, string.gmatch, string.gsub with lstrlib's signatures.
// They do not cap the subject's size; pattern_guard.cc does.
int bounded_find(lua_State* L);
int bounded_match(lua_State* L);
int bounded_gmatch(lua_State* L);
int bounded_gsub(lua_State* L);

// ---- The matcher core (bounded_match.cc), shared with bounded_match_lib.cc ----

constexpr int kMaxCaptures = 32;     // LUA_MAXCAPTURES
constexpr int kMaxMatchDepth = 200;  // MAXCCALLS: recursion depth of `match`
// Steps are charged to the LuaState this many at a time, so a run overshoots its
// instruction limit by at most this much.
constexpr uint64_t kStepQuantum = 1024;
constexpr ptrdiff_t kCapUnfinished = -1;
constexpr ptrdiff_t kCapPosition = -2;

// The steps a matcher has taken but not yet charged. Trivially destructible.
struct StepBudget {
  LuaState* owner;   // nullptr: unbounded (a lua_State no LuaState owns)
  uint64_t pending;  // steps taken since the last charge
  bool exhausted;    // the budget ran out: the owner is killed, every match fails
};

// Starts a budget charging L's LuaState, if any.
void budget_start(StepBudget* budget, lua_State* L);
// Records n steps. Returns false once the budget is exhausted.
bool budget_spend(StepBudget* budget, uint64_t n);
// Charges the pending steps. Returns false if the budget is (now) exhausted.
bool budget_settle(StepBudget* budget);
// Raises the owner's limit_exceeded kill.   REQUIRES: budget->exhausted.   [-0, +1, v]
int raise_exhausted(lua_State* L, const StepBudget* budget);

struct MatchState {
  const char* src_init;  // start of the subject
  const char* src_end;   // end ('\0') of the subject
  const char* p_end;     // end ('\0') of the pattern
  lua_State* L;
  int matchdepth;       // control for recursive depth (to avoid C stack overflow)
  unsigned char level;  // total number of captures (finished or unfinished)
  struct {
    const char* init;
    ptrdiff_t len;
  } capture[kMaxCaptures];
  StepBudget budget;
};

void prepstate(MatchState* ms, lua_State* L, const char* s, size_t ls, const char* p, size_t lp);
void reprepstate(MatchState* ms);
// lstrlib's `match`: the end of the match of p at s, or nullptr (no match, or the budget
// is exhausted: check ms->budget.exhausted).   May raise (malformed pattern).
const char* match(MatchState* ms, const char* s, const char* p);
// Plain search for s2 in s1, charging the bytes compared to `budget`.
const char* lmemfind(StepBudget* budget, const char* s1, size_t l1, const char* s2, size_t l2);
// True if the pattern has no special characters.
bool nospecials(const char* p, size_t l);
// Pushes capture i (or the whole match s..e); returns its length or kCapPosition (a
// position was pushed) and sets *cap.   [-0, +(0|1), e]
ptrdiff_t get_onecapture(MatchState* ms, int i, const char* s, const char* e, const char** cap);
void push_onecapture(MatchState* ms, int i, const char* s, const char* e);
int push_captures(MatchState* ms, const char* s, const char* e);

}  // namespace artana::lua::detail
