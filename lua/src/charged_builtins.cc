// Builtins whose C work grows with their input, charged to the instruction budget: the count
// hook sees one instruction for a call however long it runs in C, so a loop of
// string.upper over 32 MiB, or table.insert at the front of a long list, would otherwise run
// for hours under a small --max-instructions. What each call allocates is charged by the
// allocator (lua_state.cc); these charge what it scans or moves and what it pushes.
//
// Each wrapper calls the original C function in its own frame (lua_tocfunction on the
// upvalue), so errors name the function as the script called it ("bad argument #1 to
// 'upper'"). The originals are lstrlib/ltablib/lutf8lib functions without upvalues. Work is
// charged before the call where it is known up front (string.rep's count: an empty string
// repeated 2^62 times loops in C without allocating), else after it.
#include <algorithm>
#include <bit>

#include <lua.hpp>

#include "artana/lua/lua_state.h"
#include "sandbox_internal.h"
#include "sandbox_raise.h"

namespace artana::lua::detail {
namespace {

enum class Cost : lua_Integer {
  kScanStrings,  // the bytes of its string arguments (upper, lower, reverse, tonumber)
  kRepeat,       // string.rep: its count
  kInsertAt,     // table.insert(t, pos, v): the items after pos move
  kRemoveAt,     // table.remove(t, pos): the items after pos move
  kSort,         // table.sort: n log n comparisons
  kMove,         // table.move: the items copied
  kConcat,       // table.concat: the items joined (their bytes are allocated, so charged)
  kUtf8Range,    // utf8.len(s, i, j): the bytes from i to j
  kUtf8Offset,   // utf8.offset(s, n, i): the bytes of the |n| characters it steps over
  kResults,      // only what it pushes (table.unpack, string.byte, string.unpack)
};

constexpr uint64_t kPerByte = LuaState::kBytesPerInstruction;

uint64_t string_argument_bytes(lua_State* L) {
  uint64_t bytes = 0;
  for (int i = 1, top = lua_gettop(L); i <= top; ++i) {
    if (lua_type(L, i) == LUA_TSTRING) bytes += lua_rawlen(L, i);
  }
  return bytes;
}

lua_Integer length_of_first(lua_State* L) {
  return lua_type(L, 1) == LUA_TTABLE ? static_cast<lua_Integer>(lua_rawlen(L, 1)) : 0;
}

// An integer argument, or `otherwise` when absent or not an integer (the original then
// raises its own error).
lua_Integer integer_arg(lua_State* L, int index, lua_Integer otherwise) {
  int is_integer = 0;
  const lua_Integer v = lua_tointegerx(L, index, &is_integer);
  return is_integer ? v : otherwise;
}

uint64_t items_after(lua_Integer n, lua_Integer position) {
  return position >= 1 && position < n ? static_cast<uint64_t>(n - position) : 0;
}

// Bytes i..j of the string argument 1 (negative positions count from its end, as utf8.len's).
uint64_t range_bytes(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING) return 0;
  const auto len = static_cast<lua_Integer>(lua_rawlen(L, 1));
  lua_Integer i = integer_arg(L, 2, 1), j = integer_arg(L, 3, -1);
  if (i < 0) i = std::max<lua_Integer>(len + i + 1, 1);
  if (j < 0) j = len + j + 1;
  j = std::min(j, len);
  return j >= i ? static_cast<uint64_t>(j - i + 1) : 0;
}

uint64_t up_front(lua_State* L, Cost cost) {
  switch (cost) {
    case Cost::kScanStrings:
      return string_argument_bytes(L) / kPerByte;
    case Cost::kRepeat:
      return static_cast<uint64_t>(std::max<lua_Integer>(0, integer_arg(L, 2, 0)));
    case Cost::kInsertAt:  // table.insert(t, v) appends: nothing moves
      return lua_gettop(L) == 3 ? items_after(length_of_first(L), integer_arg(L, 2, 0)) : 0;
    case Cost::kRemoveAt:  // table.remove(t) takes the last: nothing moves
      return lua_gettop(L) >= 2 ? items_after(length_of_first(L), integer_arg(L, 2, 0)) : 0;
    case Cost::kSort: {
      const auto n = static_cast<uint64_t>(length_of_first(L));
      return n * static_cast<uint64_t>(std::bit_width(n));
    }
    case Cost::kMove: {
      const lua_Integer first = integer_arg(L, 2, 1), last = integer_arg(L, 3, 0);
      return last >= first ? static_cast<uint64_t>(last) - static_cast<uint64_t>(first) + 1 : 0;
    }
    case Cost::kConcat:
      return static_cast<uint64_t>(length_of_first(L));
    case Cost::kUtf8Range:
      return range_bytes(L) / kPerByte;
    case Cost::kUtf8Offset: {  // it stops at the string's ends: at most its length
      const lua_Integer n = integer_arg(L, 2, 0);
      const uint64_t steps = n == LUA_MININTEGER ? 0 : static_cast<uint64_t>(n < 0 ? -n : n);
      const uint64_t len = lua_type(L, 1) == LUA_TSTRING ? lua_rawlen(L, 1) : 0;
      return std::min(steps, len) / kPerByte;
    }
    case Cost::kResults:
      return 0;
  }
  return 0;
}

// Charges `units`; raises the run's uncatchable kill when the budget is spent. No C++
// object is alive in the callers' frames.
void charge_or_raise(lua_State* L, uint64_t units) {
  if (units == 0) return;
  LuaState* state = LuaState::from(L);
  if (state != nullptr && !state->charge(units)) raise_limit(L, state->kill_reason());
}

// Upvalues: 1 the original C function, 2 its Cost.
int charged_call(lua_State* L) {
  const auto cost = static_cast<Cost>(lua_tointeger(L, lua_upvalueindex(2)));
  charge_or_raise(L, up_front(L, cost));
  const int results = lua_tocfunction(L, lua_upvalueindex(1))(L);
  charge_or_raise(L, static_cast<uint64_t>(results));
  return results;
}

struct Charged {
  const char* name;
  Cost cost;
};

// Wraps table[fn.name], a C function without upvalues (called in the wrapper's frame, it
// would read the wrapper's).
void wrap(lua_State* L, int table, const Charged& fn) {
  const int top = lua_gettop(L);
  lua_getfield(L, table, fn.name);
  if (lua_tocfunction(L, -1) == nullptr || lua_getupvalue(L, -1, 1) != nullptr) {
    lua_settop(L, top);  // not a plain C function here: left as it is
    return;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(fn.cost));
  lua_pushcclosure(L, charged_call, 2);
  lua_setfield(L, table, fn.name);
}

}  // namespace

void charge_string_table(lua_State* L, int index) {
  index = lua_absindex(L, index);
  for (const Charged& fn :
       {Charged{"upper", Cost::kScanStrings}, Charged{"lower", Cost::kScanStrings},
        Charged{"reverse", Cost::kScanStrings}, Charged{"rep", Cost::kRepeat},
        Charged{"byte", Cost::kResults}, Charged{"char", Cost::kResults},
        Charged{"pack", Cost::kResults}, Charged{"unpack", Cost::kResults}}) {
    wrap(L, index, fn);
  }
}

void charge_table_table(lua_State* L, int index) {
  index = lua_absindex(L, index);
  for (const Charged& fn : {Charged{"insert", Cost::kInsertAt}, Charged{"remove", Cost::kRemoveAt},
                            Charged{"sort", Cost::kSort}, Charged{"move", Cost::kMove},
                            Charged{"concat", Cost::kConcat}, Charged{"unpack", Cost::kResults}}) {
    wrap(L, index, fn);
  }
}

void charge_utf8_table(lua_State* L, int index) {
  index = lua_absindex(L, index);
  for (const Charged& fn :
       {Charged{"len", Cost::kUtf8Range}, Charged{"codepoint", Cost::kResults},
        Charged{"offset", Cost::kUtf8Offset}, Charged{"char", Cost::kResults}}) {
    wrap(L, index, fn);
  }
}

void charge_base_function(lua_State* L, int table, const char* name) {
  wrap(L, lua_absindex(L, table), Charged{name, Cost::kScanStrings});
}

uint64_t charge_work(lua_State* L, uint64_t units) {
  charge_or_raise(L, units);
  return units;
}

}  // namespace artana::lua::detail
