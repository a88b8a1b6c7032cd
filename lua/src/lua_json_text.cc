// JSON text -> Lua (lua_json.h push_object_members): a recorded result goes from the ledger's
// text to the script's tables without a kernel::Json tree in between.
//
// The text is parsed by simdjson before anything is pushed (no Lua call can jump out of the
// parser's C++ frames); the tree is then walked inside lua_pcall, where every call may raise
// and only trivially destructible values (simdjson's tape references) are alive across them.
#include <climits>
#include <string>

#include <simdjson.h>
#include <lua.hpp>

#include "artana/kernel/json_parse.h"
#include "artana/lua/lua_json.h"
#include "json_push_value.h"

namespace artana::lua {
namespace {

using simdjson::dom::element_type;

void push_element(lua_State* L, simdjson::dom::element e, int depth) {
  switch (e.type()) {
    case element_type::NULL_VALUE:
      lua_pushnil(L);
      return;
    case element_type::BOOL:
      lua_pushboolean(L, e.get_bool().value_unsafe() ? 1 : 0);
      return;
    case element_type::INT64:
      lua_pushinteger(L, static_cast<lua_Integer>(e.get_int64().value_unsafe()));
      return;
    case element_type::UINT64:  // above INT64_MAX: never written by the ledger (±2^53)
      lua_pushnumber(L, static_cast<lua_Number>(e.get_uint64().value_unsafe()));
      return;
    case element_type::DOUBLE:
      lua_pushnumber(L, e.get_double().value_unsafe());
      return;
    case element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case element_type::ARRAY:
    case element_type::OBJECT:
      break;
  }
  if (depth > kMaxLuaJsonDepth) luaL_error(L, "JSON nests deeper than %d levels", kMaxLuaJsonDepth);
  luaL_checkstack(L, 3, "JSON nests too deep");
  if (e.type() == element_type::ARRAY) {
    const simdjson::dom::array items = e.get_array().value_unsafe();
    const size_t n = items.size();
    lua_createtable(L, n > INT_MAX ? INT_MAX : static_cast<int>(n), 0);
    lua_Integer i = 0;
    for (simdjson::dom::element item : items) {
      push_element(L, item, depth + 1);
      lua_rawseti(L, -2, ++i);
    }
    if (i == 0) mark_array(L, -1);  // so [] comes back as [] rather than {}
    return;
  }
  const simdjson::dom::object members = e.get_object().value_unsafe();
  const size_t n = members.size();
  lua_createtable(L, 0, n > INT_MAX ? INT_MAX : static_cast<int>(n));
  for (simdjson::dom::key_value_pair member : members) {
    lua_pushlstring(L, member.key.data(), member.key.size());
    push_element(L, member.value, depth + 1);
    lua_rawset(L, -3);
  }
}

struct MembersCall {
  simdjson::dom::object object;
  std::span<const std::string_view> keep;
  const kernel::Json* extra;
};

// lua_CFunction run by push_object_members: argument 1 is a light userdata at a MembersCall.
int l_push_members(lua_State* L) {
  const auto* call = static_cast<const MembersCall*>(lua_touserdata(L, 1));
  const int extra = static_cast<int>(call->extra->size());
  lua_createtable(L, 0, static_cast<int>(call->keep.size()) + extra);
  for (simdjson::dom::key_value_pair member : call->object) {
    bool kept = false;
    for (std::string_view name : call->keep) kept = kept || member.key == name;
    if (!kept) continue;
    lua_pushlstring(L, member.key.data(), member.key.size());
    push_element(L, member.value, 2);
    lua_rawset(L, -3);
  }
  const kernel::Json::Object& added = call->extra->as_object();
  for (size_t i = 0; i < added.size(); ++i) {
    lua_pushlstring(L, added[i].first.data(), added[i].first.size());
    detail::push_json_value(L, added[i].second, 2);
    lua_rawset(L, -3);
  }
  return 1;
}

// The slow path: the text through kernel::parse_json, the members picked from the tree.
int push_members_parsed(lua_State* L, std::string_view text, std::span<const std::string_view> keep,
                        const kernel::Json& extra, const char** problem) {
  Result<kernel::Json> parsed = kernel::parse_json(text, "recorded result");
  if (!parsed.ok() || !parsed->is_object() || !extra.is_object()) {
    *problem = parsed.ok() ? "not a JSON object" : "not valid JSON";
    return LUA_ERRSYNTAX;
  }
  kernel::Json picked = kernel::Json::object();
  for (std::string_view name : keep) {
    if (kernel::Json* member = parsed->find(name))
      picked.set(std::string(name), std::move(*member));
  }
  for (const auto& [name, value] : extra.as_object()) picked.set(name, value);
  return push_json(L, picked);
}

}  // namespace

int push_object_members(lua_State* L, std::string_view text, std::span<const std::string_view> keep,
                        const kernel::Json& extra, const char** problem) {
  // One parser per thread, reused: its buffers grow to the largest text seen and stay.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS) {
    // The kernel's parser is the authority on what the ledger wrote: it also reads what
    // simdjson refuses (integral doubles in [2^64, 1e21), written with all their digits).
    return push_members_parsed(L, text, keep, extra, problem);
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS || !extra.is_object()) {
    *problem = "not a JSON object";
    return LUA_ERRSYNTAX;
  }
  if (!lua_checkstack(L, 2)) return LUA_ERRMEM;
  MembersCall call{object, keep, &extra};
  lua_pushcfunction(L, l_push_members);  // a light C function: no allocation
  lua_pushlightuserdata(L, &call);
  return lua_pcall(L, 1, 1, 0);
}

}  // namespace artana::lua
