// pairs and next in one total order, the same in every process: string hashes are seeded
// per state (lstate.c luai_makeseed), so raw traversal order differs between a live run
// and its replay (docs/lua_binding.md). Order: numbers ascending by value (integers and
// floats mixed), then strings bytewise, then false, true. Other key types are refused.
#include <algorithm>
#include <bit>

#include <lua.hpp>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "sandbox_internal.h"
#include "sandbox_raise.h"

namespace artana::lua::detail {
namespace {

constexpr int kMaxCachedTables = 8;  // direct next() snapshots kept at once

// One key, described without Lua calls so std::sort never runs Lua (cannot longjmp).
struct KeyRef {
  int rank;  // 0 number, 1 string, 2 boolean
  bool is_int;
  lua_Integer i;
  lua_Number f;
  const char* s;  // anchored by the unsorted key array while sorting
  size_t len;
  lua_Integer slot;  // position in the unsorted key array
};
static_assert(std::is_trivially_destructible_v<KeyRef>);

// Float keys with integral values are normalised to integers by Lua, so a float key here
// is non-integral, infinite, or outside the integer range.
bool int_less_float(lua_Integer i, lua_Number f) {
  if (f >= 9223372036854775808.0) return true;
  if (f < -9223372036854775808.0) return false;
  return i <= static_cast<lua_Integer>(std::floor(f));
}

bool key_less(const KeyRef& a, const KeyRef& b) {
  if (a.rank != b.rank) return a.rank < b.rank;
  if (a.rank == 0) {
    if (a.is_int && b.is_int) return a.i < b.i;
    if (!a.is_int && !b.is_int) return a.f < b.f;
    if (a.is_int) return int_less_float(a.i, b.f);
    return !int_less_float(b.i, a.f);
  }
  if (a.rank == 1) {
    const int c = std::memcmp(a.s, b.s, std::min(a.len, b.len));
    return c != 0 ? c < 0 : a.len < b.len;
  }
  return a.i < b.i;  // booleans: false (0) before true (1)
}

// Pushes an array of t's keys in the deterministic order; returns their count.
lua_Integer push_snapshot(lua_State* L, int t) {
  t = lua_absindex(L, t);
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);  // drop the value
    const int type = lua_type(L, -1);
    if (type != LUA_TNUMBER && type != LUA_TSTRING && type != LUA_TBOOLEAN) {
      return raise_violation(L,
                             "pairs cannot iterate a table with a %s key: its order would "
                             "differ between runs (keep such keys in a list)",
                             lua_typename(L, type));
    }
    ++n;
  }
  // Sorting is C work the hook does not see: charged, or a loop of pairs() over a big table
  // would run for hours under a small instruction limit.
  charge_work(L, static_cast<uint64_t>(n) * (std::bit_width(static_cast<uint64_t>(n)) + 1));
  auto* refs = static_cast<KeyRef*>(lua_newuserdatauv(L, sizeof(KeyRef) * n, 0));
  lua_createtable(L, static_cast<int>(n), 0);  // keys in traversal order
  const int unsorted = lua_gettop(L);
  lua_Integer k = 0;
  lua_pushnil(L);
  while (lua_next(L, t) != 0 && k < n) {
    lua_pop(L, 1);
    KeyRef& r = refs[k];
    r = KeyRef{};
    r.slot = ++k;
    switch (lua_type(L, -1)) {
      case LUA_TNUMBER:
        r.rank = 0;
        r.is_int = lua_isinteger(L, -1);
        if (r.is_int)
          r.i = lua_tointeger(L, -1);
        else
          r.f = lua_tonumber(L, -1);
        break;
      case LUA_TSTRING:
        r.rank = 1;
        r.s = lua_tolstring(L, -1, &r.len);  // a string key: no conversion, next() is safe
        break;
      default:
        r.rank = 2;
        r.i = lua_toboolean(L, -1);
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, unsorted, r.slot);
  }
  std::sort(refs, refs + k, key_less);  // plain data, no Lua calls: nothing can longjmp
  lua_createtable(L, static_cast<int>(k), 0);
  for (lua_Integer j = 0; j < k; ++j) {
    lua_rawgeti(L, unsorted, refs[j].slot);
    lua_rawseti(L, -2, j + 1);
  }
  lua_replace(L, unsorted - 1);  // the sorted array takes the userdata's slot
  lua_settop(L, unsorted - 1);
  return k;
}

// Upvalues: 1 the sorted keys, 2 the position reached. Args: the table.
int snapshot_iter(lua_State* L) {
  lua_Integer pos = lua_tointeger(L, lua_upvalueindex(2));
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, lua_upvalueindex(1)));
  luaL_checktype(L, 1, LUA_TTABLE);
  while (pos < n) {
    ++pos;
    lua_rawgeti(L, lua_upvalueindex(1), pos);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, 1) != LUA_TNIL) {  // keys set to nil during the loop are skipped
      lua_pushinteger(L, pos);
      lua_replace(L, lua_upvalueindex(2));
      return 2;
    }
    lua_pop(L, 2);
  }
  lua_pushinteger(L, pos);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushnil(L);
  return 1;
}

// Upvalues: 1 cache (table -> {sorted keys, key -> position}), 2 its entry count.
// Rebuilds t's entry (t at index 1) and leaves it on the top.
void rebuild_entry(lua_State* L) {
  lua_Integer count = lua_tointeger(L, lua_upvalueindex(2));
  if (count >= kMaxCachedTables) {  // drop them all: a rule that depends only on the calls
    lua_newtable(L);
    lua_replace(L, lua_upvalueindex(1));
    count = 0;
  }
  lua_createtable(L, 2, 0);  // the entry
  const lua_Integer n = push_snapshot(L, 1);
  lua_createtable(L, 0, static_cast<int>(n));  // key -> position
  for (lua_Integer j = 1; j <= n; ++j) {
    lua_rawgeti(L, -2, j);
    lua_pushinteger(L, j);
    lua_rawset(L, -3);
  }
  lua_rawseti(L, -3, 2);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, -2);
  lua_rawset(L, lua_upvalueindex(1));  // cache[t] = entry
  lua_pushinteger(L, count + 1);
  lua_replace(L, lua_upvalueindex(2));
}

// Pushes the position of the key at index 2 in the entry on the top, or nil.
int key_position(lua_State* L) {
  lua_rawgeti(L, -1, 2);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  lua_remove(L, -2);
  return lua_type(L, -1);
}

int deterministic_next(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  lua_Integer pos = 0;
  if (lua_isnil(L, 2)) {
    rebuild_entry(L);  // next(t) always starts from a fresh snapshot
  } else {
    lua_pushvalue(L, 1);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TTABLE || key_position(L) == LUA_TNIL) {
      lua_settop(L, 2);
      rebuild_entry(L);
      if (key_position(L) == LUA_TNIL) return luaL_error(L, "invalid key to 'next'");
    }
    pos = lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  const int entry = lua_gettop(L);
  lua_rawgeti(L, entry, 1);
  const int keys = lua_gettop(L);
  const auto n = static_cast<lua_Integer>(lua_rawlen(L, keys));
  while (pos < n) {
    lua_rawgeti(L, keys, ++pos);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, 1) != LUA_TNIL) return 2;
    lua_pop(L, 2);
  }
  lua_pushvalue(L, 1);  // the traversal ended: forget t
  lua_pushnil(L);
  lua_rawset(L, lua_upvalueindex(1));
  lua_pushnil(L);
  return 1;
}

}  // namespace

int push_sorted_iteration(lua_State* L, int index) {
  index = lua_absindex(L, index);
  push_snapshot(L, index);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, snapshot_iter, 2);
  lua_pushvalue(L, index);
  lua_pushnil(L);
  return 3;
}

int deterministic_pairs(lua_State* L) {
  luaL_checkany(L, 1);
  if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {  // the script's own order
    lua_pushvalue(L, 1);
    lua_call(L, 1, 3);
    return 3;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  return push_sorted_iteration(L, 1);
}

void push_deterministic_next(lua_State* L) {
  lua_newtable(L);  // strong cache: hits must not depend on when the GC runs
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, deterministic_next, 2);
}

}  // namespace artana::lua::detail
