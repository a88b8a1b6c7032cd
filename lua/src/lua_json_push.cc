// JSON -> Lua conversion and the array marker (lua_json.h).
//
// Pushing allocates, so any call may raise (a memory limit makes that real): push_json runs
// the work inside lua_pcall, holding only references and trivially destructible locals
// across the calls that may jump, and returns the status.
#include <climits>

#include <lua.hpp>

#include "artana/lua/lua_json.h"
#include "json_push_value.h"

namespace artana::lua {
namespace {

using kernel::Json;

// Registry key of the array marker: the address is unique to this library.
const char kArrayMarkerKey = 0;
const char kViewFieldKey = 0;  // registry: the string "__artana_json"

}  // namespace

// ---- JSON -> Lua ---------------------------------------------------------------------------

// Runs inside lua_pcall: every call may raise, and only references and trivially
// destructible locals are alive across them. Index loops, not iterators, keep it so in
// checked-iterator builds too.
void detail::push_json_value(lua_State* L, const Json& value, int depth) {
  switch (value.type()) {
    case Json::Type::kNull:
      lua_pushnil(L);
      return;
    case Json::Type::kBool:
      lua_pushboolean(L, value.as_bool() ? 1 : 0);
      return;
    case Json::Type::kInteger:
      lua_pushinteger(L, static_cast<lua_Integer>(value.as_integer()));
      return;
    case Json::Type::kDouble:
      lua_pushnumber(L, value.as_double());
      return;
    case Json::Type::kString:
      lua_pushlstring(L, value.as_string().data(), value.as_string().size());
      return;
    case Json::Type::kArray:
    case Json::Type::kObject:
      break;
  }
  if (depth > kMaxLuaJsonDepth) luaL_error(L, "JSON nests deeper than %d levels", kMaxLuaJsonDepth);
  luaL_checkstack(L, 3, "JSON nests too deep");
  const size_t n = value.size();
  const int hint = n > INT_MAX ? INT_MAX : static_cast<int>(n);
  if (value.is_array()) {
    const Json::Array& items = value.as_array();
    lua_createtable(L, hint, 0);
    for (size_t i = 0; i < n; ++i) {
      push_json_value(L, items[i], depth + 1);
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    if (n == 0) mark_array(L, -1);  // so [] comes back as [] rather than {}
  } else {
    const Json::Object& members = value.as_object();
    lua_createtable(L, 0, hint);
    for (size_t i = 0; i < n; ++i) {
      lua_pushlstring(L, members[i].first.data(), members[i].first.size());
      push_json_value(L, members[i].second, depth + 1);
      lua_rawset(L, -3);
    }
  }
}

namespace {

// lua_CFunction run by push_json: argument 1 is a light userdata pointing at the Json.
int l_push_json(lua_State* L) {
  detail::push_json_value(L, *static_cast<const Json*>(lua_touserdata(L, 1)), 1);
  return 1;
}

}  // namespace

int push_json(lua_State* L, const Json& value) {
  if (!lua_checkstack(L, 2)) return LUA_ERRMEM;
  lua_pushcfunction(L, l_push_json);  // a light C function: no allocation
  lua_pushlightuserdata(L, const_cast<Json*>(&value));
  return lua_pcall(L, 1, 1, 0);
}

void push_array_marker(lua_State* L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMarkerKey) != LUA_TNIL) return;
  lua_pop(L, 1);  // drop the nil
  lua_createtable(L, 0, 2);
  lua_pushliteral(L, "artana.array");
  lua_setfield(L, -2, "__name");
  // Protected: a script can neither read the shared marker nor strip it from a table.
  lua_pushliteral(L, "artana.array");
  lua_setfield(L, -2, "__metatable");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kArrayMarkerKey);
}

void enable_json_views(lua_State* L) {
  lua_pushliteral(L, "__artana_json");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kViewFieldKey);
}

bool push_json_view_data(lua_State* L, int index) {
  const int abs = lua_absindex(L, index);
  if (!lua_getmetatable(L, abs)) return false;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kViewFieldKey) == LUA_TSTRING &&
      lua_rawget(L, -2) == LUA_TTABLE) {
    lua_remove(L, -2);  // drop the metatable, keep the data
    return true;
  }
  lua_pop(L, 2);  // drop the field (or nil) and the metatable
  return false;
}

void mark_array(lua_State* L, int index) {
  const int abs = lua_absindex(L, index);
  push_array_marker(L);
  lua_setmetatable(L, abs);
}

bool is_marked_array(lua_State* L, int index) {
  const int abs = lua_absindex(L, index);
  if (!lua_getmetatable(L, abs)) return false;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMarkerKey);
  const bool marked = lua_rawequal(L, -1, -2) != 0;
  lua_pop(L, 2);  // drop the marker and the metatable
  return marked;
}

}  // namespace artana::lua
