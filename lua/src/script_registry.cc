// Reading what a script registered (artana.tool, artana.model_port) from the registry tables
// of its ScriptApi, for the host to start the run with.
#include <lua.hpp>

#include "artana/lua/lua_json.h"
#include "artana/lua/script_api.h"

namespace artana::lua {
namespace {

// Field `name` of the table at `index`, without metamethods. Called only while no Lua code
// runs; the field names are constants of the prelude's artana.tool, so pushing them finds
// the interned strings and allocates nothing.   [-0, +1, -]
int raw_field(lua_State* L, int index, const char* name) {
  lua_pushstring(L, name);
  return lua_rawget(L, index < 0 ? index - 1 : index);
}

std::string string_field(lua_State* L, int table, const char* name, const char* fallback) {
  raw_field(L, table, name);
  std::string value = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : fallback;
  lua_pop(L, 1);
  return value;
}

}  // namespace

Result<std::vector<RegisteredToolFields>> registered_tools(lua_State* L, const ScriptApi& api) {
  std::vector<RegisteredToolFields> tools;
  ScriptApi::push(L, api.tools);
  const int table = lua_gettop(L);
  Status status;
  lua_pushnil(L);
  while (lua_next(L, table) != 0) {
    const int spec = lua_gettop(L);
    RegisteredToolFields& tool = tools.emplace_back();
    tool.name = lua_tostring(L, spec - 1);
    tool.description = string_field(L, spec, "description", "");
    tool.capability = string_field(L, spec, "capability", "");
    tool.version = string_field(L, spec, "version", "1");
    raw_field(L, spec, "side_effect");
    tool.side_effect = lua_toboolean(L, -1);
    raw_field(L, spec, "args");
    auto args = to_json(L, -1, "args");
    lua_settop(L, spec - 1);  // keep the key for lua_next
    if (!args.ok()) {
      status = Status::invalid_argument("tool '{}': {}", tool.name, args.status().message());
      break;
    }
    tool.args = std::move(*args);
  }
  lua_settop(L, table - 1);
  if (!status.ok()) return status;
  return tools;
}

std::vector<std::string> registered_port_names(lua_State* L, const ScriptApi& api) {
  // The ports table's keys, read with lua_next: it pushes only existing values.
  std::vector<std::string> names;
  ScriptApi::push(L, api.ports);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) names.emplace_back(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return names;
}

}  // namespace artana::lua
