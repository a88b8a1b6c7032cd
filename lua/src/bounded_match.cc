// The matcher core of Lua 5.4.4's lstrlib.c ("PATTERN MATCHING"), ported to C++ with a
// step budget (see bounded_match.h). Apart from the budget the logic and the error
// messages are lstrlib's, line for line, so scripts see Lua's exact semantics.
//
// Derived from lstrlib.c of Lua 5.4.4 (github.com/lua/lua, tag v5.4.4):
// Copyright (C) 1994-2022 Lua.org, PUC-Rio.
//
// Permission is hereby granted, free of charge, to any person obtaining a copy of this
// software and associated documentation files (the "Software"), to deal in the Software
// without restriction, including without limitation the rights to use, copy, modify,
// merge, publish, distribute, sublicense, and/or sell copies of the Software, and to
// permit persons to whom the Software is furnished to do so, subject to the following
// conditions:
//
// The above copyright notice and this permission notice shall be included in all copies
// or substantial portions of the Software.
//
// THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
// INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
// PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT
// HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
// CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE
// OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
#include "bounded_match.h"

#include <lua.hpp>

#include <cctype>
#include <cstring>

#include "artana/lua/lua_state.h"
#include "sandbox_raise.h"

namespace artana::lua::detail {
namespace {

constexpr char kEsc = '%';
constexpr const char kSpecials[] = "^$*+?.([%-";

int uchar(char c) { return static_cast<unsigned char>(c); }

int check_capture(MatchState* ms, int l) {
  l -= '1';
  if (l < 0 || l >= ms->level || ms->capture[l].len == kCapUnfinished)
    return luaL_error(ms->L, "invalid capture index %%%d", l + 1);
  return l;
}

int capture_to_close(MatchState* ms) {
  int level = ms->level;
  for (level--; level >= 0; level--)
    if (ms->capture[level].len == kCapUnfinished) return level;
  return luaL_error(ms->L, "invalid pattern capture");
}

const char* classend(MatchState* ms, const char* p) {
  switch (*p++) {
    case kEsc: {
      if (p == ms->p_end) luaL_error(ms->L, "malformed pattern (ends with '%%')");
      return p + 1;
    }
    case '[': {
      if (*p == '^') p++;
      do {  // look for a ']'
        if (p == ms->p_end) luaL_error(ms->L, "malformed pattern (missing ']')");
        if (*(p++) == kEsc && p < ms->p_end) p++;  // skip escapes (e.g. '%]')
      } while (*p != ']');
      return p + 1;
    }
    default:
      return p;
  }
}

int match_class(int c, int cl) {
  int res;
  switch (std::tolower(cl)) {
    case 'a':
      res = std::isalpha(c);
      break;
    case 'c':
      res = std::iscntrl(c);
      break;
    case 'd':
      res = std::isdigit(c);
      break;
    case 'g':
      res = std::isgraph(c);
      break;
    case 'l':
      res = std::islower(c);
      break;
    case 'p':
      res = std::ispunct(c);
      break;
    case 's':
      res = std::isspace(c);
      break;
    case 'u':
      res = std::isupper(c);
      break;
    case 'w':
      res = std::isalnum(c);
      break;
    case 'x':
      res = std::isxdigit(c);
      break;
    case 'z':
      res = (c == 0);
      break;  // deprecated option
    default:
      return (cl == c);
  }
  return std::islower(cl) ? res : !res;
}

int matchbracketclass(int c, const char* p, const char* ec) {
  int sig = 1;
  if (*(p + 1) == '^') {
    sig = 0;
    p++;  // skip the '^'
  }
  while (++p < ec) {
    if (*p == kEsc) {
      p++;
      if (match_class(c, uchar(*p))) return sig;
    } else if (*(p + 1) == '-' && p + 2 < ec) {
      p += 2;
      if (uchar(*(p - 2)) <= c && c <= uchar(*p)) return sig;
    } else if (uchar(*p) == c) {
      return sig;
    }
  }
  return !sig;
}

int singlematch(MatchState* ms, const char* s, const char* p, const char* ep) {
  if (s >= ms->src_end) return 0;
  const int c = uchar(*s);
  switch (*p) {
    case '.':
      return 1;  // matches any char
    case kEsc:
      return match_class(c, uchar(*(p + 1)));
    case '[':
      return matchbracketclass(c, p, ep - 1);
    default:
      return uchar(*p) == c;
  }
}

// Charges the bytes it scans: %b over a long subject is linear work per step.
const char* matchbalance(MatchState* ms, const char* s, const char* p) {
  if (p >= ms->p_end - 1) luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
  if (*s != *p) return nullptr;
  const char* const start = s;
  const int b = *p;
  const int e = *(p + 1);
  int cont = 1;
  while (++s < ms->src_end) {
    if (*s == e) {
      if (--cont == 0) {
        budget_spend(&ms->budget, static_cast<uint64_t>(s - start));
        return ms->budget.exhausted ? nullptr : s + 1;
      }
    } else if (*s == b) {
      cont++;
    }
  }
  budget_spend(&ms->budget, static_cast<uint64_t>(s - start));
  return nullptr;  // string ends out of balance
}

const char* max_expand(MatchState* ms, const char* s, const char* p, const char* ep) {
  ptrdiff_t i = 0;  // counts maximum expand for item
  while (singlematch(ms, s + i, p, ep)) i++;
  if (!budget_spend(&ms->budget, static_cast<uint64_t>(i))) return nullptr;
  // keeps trying to match with the maximum repetitions
  while (i >= 0) {
    const char* res = match(ms, s + i, ep + 1);
    if (res != nullptr) return res;
    if (ms->budget.exhausted) return nullptr;
    i--;  // else didn't match; reduce 1 repetition to try again
  }
  return nullptr;
}

const char* min_expand(MatchState* ms, const char* s, const char* p, const char* ep) {
  for (;;) {
    const char* res = match(ms, s, ep + 1);
    if (res != nullptr) return res;
    if (ms->budget.exhausted) return nullptr;
    if (!singlematch(ms, s, p, ep)) return nullptr;
    s++;  // try with one more repetition
  }
}

const char* start_capture(MatchState* ms, const char* s, const char* p, ptrdiff_t what) {
  const int level = ms->level;
  if (level >= kMaxCaptures) luaL_error(ms->L, "too many captures");
  ms->capture[level].init = s;
  ms->capture[level].len = what;
  ms->level = static_cast<unsigned char>(level + 1);
  const char* res = match(ms, s, p);
  if (res == nullptr) ms->level--;  // match failed: undo capture
  return res;
}

const char* end_capture(MatchState* ms, const char* s, const char* p) {
  const int l = capture_to_close(ms);
  ms->capture[l].len = s - ms->capture[l].init;  // close capture
  const char* res = match(ms, s, p);
  if (res == nullptr) ms->capture[l].len = kCapUnfinished;  // match failed: undo capture
  return res;
}

const char* match_capture(MatchState* ms, const char* s, int l) {
  l = check_capture(ms, l);
  const size_t len = static_cast<size_t>(ms->capture[l].len);
  if (!budget_spend(&ms->budget, len)) return nullptr;
  if (static_cast<size_t>(ms->src_end - s) >= len && std::memcmp(ms->capture[l].init, s, len) == 0)
    return s + len;
  return nullptr;
}

}  // namespace

void budget_start(StepBudget* budget, lua_State* L) {
  budget->owner = LuaState::from(L);
  budget->pending = 0;
  budget->exhausted = false;
}

bool budget_spend(StepBudget* budget, uint64_t n) {
  if (budget->exhausted) return false;
  budget->pending += n;
  if (budget->pending >= kStepQuantum) return budget_settle(budget);
  return true;
}

bool budget_settle(StepBudget* budget) {
  if (budget->exhausted) return false;
  const uint64_t steps = budget->pending;
  budget->pending = 0;
  if (budget->owner != nullptr && !budget->owner->charge(steps)) budget->exhausted = true;
  return !budget->exhausted;
}

int raise_exhausted(lua_State* L, const StepBudget* budget) {
  const char* reason = budget->owner != nullptr ? budget->owner->kill_reason() : nullptr;
  return raise_limit(L, reason != nullptr ? reason : "instruction limit");
}

// Each pass through `init` (a call, or one of lstrlib's goto-optimised tail calls) is a
// step; once the budget is exhausted every pass fails, so the backtracking unwinds.
const char* match(MatchState* ms, const char* s, const char* p) {
  if (ms->matchdepth-- == 0) luaL_error(ms->L, "pattern too complex");
init:
  if (!budget_spend(&ms->budget, 1)) {
    s = nullptr;
  } else if (p != ms->p_end) {  // end of pattern?
    switch (*p) {
      case '(': {             // start capture
        if (*(p + 1) == ')')  // position capture?
          s = start_capture(ms, s, p + 2, kCapPosition);
        else
          s = start_capture(ms, s, p + 1, kCapUnfinished);
        break;
      }
      case ')': {  // end capture
        s = end_capture(ms, s, p + 1);
        break;
      }
      case '$': {
        if ((p + 1) != ms->p_end)              // is the '$' the last char in pattern?
          goto dflt;                           // no; go to default
        s = (s == ms->src_end) ? s : nullptr;  // check end of string
        break;
      }
      case kEsc: {  // escaped sequences not in the format class[*+?-]?
        switch (*(p + 1)) {
          case 'b': {  // balanced string?
            s = matchbalance(ms, s, p + 2);
            if (s != nullptr) {
              p += 4;
              goto init;  // return match(ms, s, p + 4);
            }             // else fail (s == nullptr)
            break;
          }
          case 'f': {  // frontier?
            p += 2;
            if (*p != '[') luaL_error(ms->L, "missing '[' after '%%f' in pattern");
            const char* ep = classend(ms, p);  // points to what is next
            const char previous = (s == ms->src_init) ? '\0' : *(s - 1);
            if (!matchbracketclass(uchar(previous), p, ep - 1) &&
                matchbracketclass(uchar(*s), p, ep - 1)) {
              p = ep;
              goto init;  // return match(ms, s, ep);
            }
            s = nullptr;  // match failed
            break;
          }
          case '0':
          case '1':
          case '2':
          case '3':
          case '4':
          case '5':
          case '6':
          case '7':
          case '8':
          case '9': {  // capture results (%0-%9)?
            s = match_capture(ms, s, uchar(*(p + 1)));
            if (s != nullptr) {
              p += 2;
              goto init;  // return match(ms, s, p + 2)
            }
            break;
          }
          default:
            goto dflt;
        }
        break;
      }
      default:
      dflt : {                                           // pattern class plus optional suffix
        const char* ep = classend(ms, p);                // points to optional suffix
        if (!singlematch(ms, s, p, ep)) {                // does not match at least once?
          if (*ep == '*' || *ep == '?' || *ep == '-') {  // accept empty?
            p = ep + 1;
            goto init;  // return match(ms, s, ep + 1);
          }
          s = nullptr;    // '+' or no suffix: fail
        } else {          // matched once
          switch (*ep) {  // handle optional suffix
            case '?': {   // optional
              const char* res = match(ms, s + 1, ep + 1);
              if (res != nullptr) {
                s = res;
              } else {
                p = ep + 1;
                goto init;  // else return match(ms, s, ep + 1);
              }
              break;
            }
            case '+':  // 1 or more repetitions
              s++;     // 1 match already done
              [[fallthrough]];
            case '*':  // 0 or more repetitions
              s = max_expand(ms, s, p, ep);
              break;
            case '-':  // 0 or more repetitions (minimum)
              s = min_expand(ms, s, p, ep);
              break;
            default:  // no suffix
              s++;
              p = ep;
              goto init;  // return match(ms, s + 1, ep);
          }
        }
        break;
      }
    }
  }
  ms->matchdepth++;
  return s;
}

// lstrlib's lmemfind; charges every byte memchr scans and every candidate's compare.
const char* lmemfind(StepBudget* budget, const char* s1, size_t l1, const char* s2, size_t l2) {
  if (l2 == 0) return s1;       // empty strings are everywhere
  if (l2 > l1) return nullptr;  // avoids a negative 'l1'
  l2--;                         // 1st char will be checked by 'memchr'
  l1 = l1 - l2;                 // 's2' cannot be found after that
  while (l1 > 0) {
    const char* init = static_cast<const char*>(std::memchr(s1, *s2, l1));
    if (init == nullptr) {
      budget_spend(budget, l1);
      return nullptr;  // not found
    }
    if (!budget_spend(budget, static_cast<uint64_t>(init - s1) + 1 + l2)) return nullptr;
    init++;  // 1st char is already checked
    if (std::memcmp(init, s2 + 1, l2) == 0) return init - 1;
    l1 -= static_cast<size_t>(init - s1);  // correct 'l1' and 's1' to try again
    s1 = init;
  }
  return nullptr;  // not found
}

ptrdiff_t get_onecapture(MatchState* ms, int i, const char* s, const char* e, const char** cap) {
  if (i >= ms->level) {
    if (i != 0) luaL_error(ms->L, "invalid capture index %%%d", i + 1);
    *cap = s;
    return e - s;
  }
  const ptrdiff_t capl = ms->capture[i].len;
  *cap = ms->capture[i].init;
  if (capl == kCapUnfinished)
    luaL_error(ms->L, "unfinished capture");
  else if (capl == kCapPosition)
    lua_pushinteger(ms->L, (ms->capture[i].init - ms->src_init) + 1);
  return capl;
}

void push_onecapture(MatchState* ms, int i, const char* s, const char* e) {
  const char* cap;
  const ptrdiff_t l = get_onecapture(ms, i, s, e, &cap);
  if (l != kCapPosition) lua_pushlstring(ms->L, cap, static_cast<size_t>(l));
  // else the position was already pushed
}

int push_captures(MatchState* ms, const char* s, const char* e) {
  const int nlevels = (ms->level == 0 && s != nullptr) ? 1 : ms->level;
  luaL_checkstack(ms->L, nlevels, "too many captures");
  for (int i = 0; i < nlevels; i++) push_onecapture(ms, i, s, e);
  return nlevels;  // number of strings pushed
}

bool nospecials(const char* p, size_t l) {
  size_t upto = 0;
  do {
    if (std::strpbrk(p + upto, kSpecials) != nullptr) return false;  // a special character
    upto += std::strlen(p + upto) + 1;                               // may have more after \0
  } while (upto <= l);
  return true;
}

void prepstate(MatchState* ms, lua_State* L, const char* s, size_t ls, const char* p, size_t lp) {
  ms->L = L;
  ms->matchdepth = kMaxMatchDepth;
  ms->src_init = s;
  ms->src_end = s + ls;
  ms->p_end = p + lp;
  ms->level = 0;
  budget_start(&ms->budget, L);
}

void reprepstate(MatchState* ms) { ms->level = 0; }

}  // namespace artana::lua::detail
