// string.find, string.match, string.gmatch and string.gsub of Lua 5.4.4's lstrlib.c, on
// the step-bounded matcher of bounded_match.cc. Each function settles the matcher's steps
// with the instruction budget before it pushes results or calls Lua, and raises the run's
// limit_exceeded kill when the budget ran out (bounded_match.h).
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
//
// Every function here is C-style on purpose: luaL_check*, luaL_error, luaL_Buffer and the
// gsub callback may longjmp, so no object with a destructor is ever alive (STYLE.md §5).
#include <cctype>

#include <lua.hpp>

#include <cstring>

#include "bounded_match.h"

namespace artana::lua::detail {
namespace {

constexpr char kEsc = '%';

// Translates a relative initial string position (negative means back from the end):
// clips result to [1, inf). lstrlib's posrelatI.
size_t posrelat_i(lua_Integer pos, size_t len) {
  if (pos > 0) return static_cast<size_t>(pos);
  if (pos == 0) return 1;
  if (pos < -static_cast<lua_Integer>(len)) return 1;  // clip to 1
  return len + static_cast<size_t>(pos) + 1;
}

int str_find_aux(lua_State* L, bool find) {
  size_t ls = 0;
  size_t lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const size_t init = posrelat_i(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) {     // start after string's end?
    luaL_pushfail(L);  // cannot find anything
    return 1;
  }
  if (find && (lua_toboolean(L, 4) || nospecials(p, lp))) {  // do a plain search
    StepBudget budget;
    budget_start(&budget, L);
    const char* s2 = lmemfind(&budget, s + init, ls - init, p, lp);
    if (!budget_settle(&budget)) return raise_exhausted(L, &budget);
    if (s2 != nullptr) {
      lua_pushinteger(L, (s2 - s) + 1);
      lua_pushinteger(L, static_cast<lua_Integer>((s2 - s) + lp));
      return 2;
    }
  } else {
    MatchState ms;
    const char* s1 = s + init;
    const bool anchor = (*p == '^');
    if (anchor) {
      p++;
      lp--;  // skip anchor character
    }
    prepstate(&ms, L, s, ls, p, lp);
    do {
      reprepstate(&ms);
      const char* res = match(&ms, s1, p);
      if (!budget_settle(&ms.budget)) return raise_exhausted(L, &ms.budget);
      if (res != nullptr) {
        if (find) {
          lua_pushinteger(L, (s1 - s) + 1);  // start
          lua_pushinteger(L, res - s);       // end
          return push_captures(&ms, nullptr, nullptr) + 2;
        }
        return push_captures(&ms, s1, res);
      }
    } while (s1++ < ms.src_end && !anchor);
  }
  luaL_pushfail(L);  // not found
  return 1;
}

// State for gmatch, in a userdata (plain data: Lua frees it without a destructor).
struct GMatchState {
  const char* src;        // current position
  const char* p;          // pattern
  const char* lastmatch;  // end of last match
  MatchState ms;
};

int gmatch_aux(lua_State* L) {
  auto* gm = static_cast<GMatchState*>(lua_touserdata(L, lua_upvalueindex(3)));
  gm->ms.L = L;
  budget_start(&gm->ms.budget, L);  // charge the thread that calls the iterator
  for (const char* src = gm->src; src <= gm->ms.src_end; src++) {
    reprepstate(&gm->ms);
    const char* e = match(&gm->ms, src, gm->p);
    if (gm->ms.budget.exhausted) return raise_exhausted(L, &gm->ms.budget);
    if (e != nullptr && e != gm->lastmatch) {
      if (!budget_settle(&gm->ms.budget)) return raise_exhausted(L, &gm->ms.budget);
      gm->src = gm->lastmatch = e;
      return push_captures(&gm->ms, src, e);
    }
  }
  if (!budget_settle(&gm->ms.budget)) return raise_exhausted(L, &gm->ms.budget);
  return 0;  // not found
}

void add_s(MatchState* ms, luaL_Buffer* b, const char* s, const char* e) {
  size_t l = 0;
  lua_State* L = ms->L;
  const char* news = lua_tolstring(L, 3, &l);
  const char* p;
  while ((p = static_cast<const char*>(std::memchr(news, kEsc, l))) != nullptr) {
    luaL_addlstring(b, news, static_cast<size_t>(p - news));
    p++;               // skip ESC
    if (*p == kEsc) {  // '%%'
      luaL_addchar(b, *p);
    } else if (*p == '0') {  // '%0'
      luaL_addlstring(b, s, static_cast<size_t>(e - s));
    } else if (std::isdigit(static_cast<unsigned char>(*p))) {  // '%n'
      const char* cap;
      const ptrdiff_t resl = get_onecapture(ms, *p - '1', s, e, &cap);
      if (resl == kCapPosition)
        luaL_addvalue(b);  // add position to accumulated result
      else
        luaL_addlstring(b, cap, static_cast<size_t>(resl));
    } else {
      luaL_error(L, "invalid use of '%c' in replacement string", kEsc);
    }
    l -= static_cast<size_t>(p + 1 - news);
    news = p + 1;
  }
  luaL_addlstring(b, news, l);
}

// Adds the replacement value to the buffer. Returns true if the original string was
// changed (function calls and table indexing resulting in nil or false do not).
int add_value(MatchState* ms, luaL_Buffer* b, const char* s, const char* e, int tr) {
  lua_State* L = ms->L;
  switch (tr) {
    case LUA_TFUNCTION: {
      // Charge the matcher's steps before Lua code runs and the count hook takes over.
      if (!budget_settle(&ms->budget)) return raise_exhausted(L, &ms->budget);
      lua_pushvalue(L, 3);                    // push the function
      const int n = push_captures(ms, s, e);  // all captures as arguments
      lua_call(L, n, 1);
      break;
    }
    case LUA_TTABLE: {
      push_onecapture(ms, 0, s, e);  // first capture is the index
      lua_gettable(L, 3);
      break;
    }
    default: {  // LUA_TNUMBER or LUA_TSTRING
      add_s(ms, b, s, e);
      return 1;
    }
  }
  if (!lua_toboolean(L, -1)) {                          // nil or false?
    lua_pop(L, 1);                                      // remove value
    luaL_addlstring(b, s, static_cast<size_t>(e - s));  // keep original text
    return 0;
  }
  if (!lua_isstring(L, -1))
    return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(b);  // add result to accumulator
  return 1;
}

}  // namespace

int bounded_find(lua_State* L) { return str_find_aux(L, true); }

int bounded_match(lua_State* L) { return str_find_aux(L, false); }

int bounded_gmatch(lua_State* L) {
  size_t ls = 0;
  size_t lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  size_t init = posrelat_i(luaL_optinteger(L, 3, 1), ls) - 1;
  lua_settop(L, 2);  // keep strings on closure to avoid being collected
  auto* gm = static_cast<GMatchState*>(lua_newuserdatauv(L, sizeof(GMatchState), 0));
  if (init > ls) init = ls + 1;  // start after string's end: avoid overflows in 's + init'
  prepstate(&gm->ms, L, s, ls, p, lp);
  gm->src = s + init;
  gm->p = p;
  gm->lastmatch = nullptr;
  lua_pushcclosure(L, gmatch_aux, 3);
  return 1;
}

int bounded_gsub(lua_State* L) {
  size_t srcl = 0;
  size_t lp = 0;
  const char* src = luaL_checklstring(L, 1, &srcl);  // subject
  const char* p = luaL_checklstring(L, 2, &lp);      // pattern
  const char* lastmatch = nullptr;                   // end of last match
  const int tr = lua_type(L, 3);                     // replacement type
  const lua_Integer max_s = luaL_optinteger(L, 4, static_cast<lua_Integer>(srcl) + 1);
  const bool anchor = (*p == '^');
  lua_Integer n = 0;  // replacement count
  int changed = 0;
  MatchState ms;
  luaL_Buffer b;
  luaL_argexpected(
      L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
      "string/function/table");
  luaL_buffinit(L, &b);
  if (anchor) {
    p++;
    lp--;  // skip anchor character
  }
  prepstate(&ms, L, src, srcl, p, lp);
  while (n < max_s) {
    reprepstate(&ms);  // (re)prepare state for new match
    const char* e = match(&ms, src, p);
    if (ms.budget.exhausted) return raise_exhausted(L, &ms.budget);
    if (e != nullptr && e != lastmatch) {  // match?
      n++;
      changed = add_value(&ms, &b, src, e, tr) | changed;
      src = lastmatch = e;
    } else if (src < ms.src_end) {  // otherwise, skip one character
      luaL_addchar(&b, *src++);
    } else {
      break;  // end of subject
    }
    if (anchor) break;
  }
  if (!budget_settle(&ms.budget)) return raise_exhausted(L, &ms.budget);
  if (!changed) {         // no changes?
    lua_pushvalue(L, 1);  // return original string
  } else {
    luaL_addlstring(&b, src, static_cast<size_t>(ms.src_end - src));
    luaL_pushresult(&b);  // create and return new string
  }
  lua_pushinteger(L, n);  // number of substitutions
  return 2;
}

}  // namespace artana::lua::detail
