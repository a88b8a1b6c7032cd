// Error tables at the Lua boundary: fields, __tostring, pcall, the traceback handler,
// read_error, truncation.
#include "artana/lua/lua_error.h"

#include <lua.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "artana/kernel/canonical_json.h"

namespace artana::lua {
namespace {

struct State {
  State() : L(luaL_newstate()) {
    luaL_openlibs(L);
    lua_register(L, "deny", l_deny);
    lua_register(L, "not_found", l_not_found);
  }
  ~State() { lua_close(L); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // The trampoline of STYLE.md §5: the Status lives in a scope, the raise comes last.
  static int l_deny(lua_State* L) {
    BoundaryError err;
    {
      const Status status = Status::failed_precondition("tool charge_card needs billing:write")
                                .with_kind(artana::ErrorKind::kCapabilityDenied, "charge");
      err = BoundaryError::from(status);
    }
    return raise_error(L, err);
  }
  static int l_not_found(lua_State* L) {
    BoundaryError err;
    {
      const Status status = Status::not_found("no run r1");
      err = BoundaryError::from(status);
    }
    return raise_error(L, err);
  }

  // Loads `code` as script.lua and runs it under traceback_handler; leaves the error on top.
  int run(const std::string& code) {
    lua_pushcfunction(L, traceback_handler);
    const int handler = lua_gettop(L);
    REQUIRE(luaL_loadbuffer(L, code.data(), code.size(), "@script.lua") == LUA_OK);
    const int status = lua_pcall(L, 0, 0, handler);
    lua_remove(L, handler);
    return status;
  }

  std::string field(int index, const char* name) {
    lua_getfield(L, index, name);
    std::string out = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "<none>";
    lua_pop(L, 1);
    return out;
  }

  std::string to_string(int index) {
    std::string out = luaL_tolstring(L, index, nullptr);
    lua_pop(L, 1);
    return out;
  }

  lua_State* L;
};

TEST_CASE("a raised error is a table with kind, message and step_key that pcall catches", "[lua]") {
  State s;
  const std::string code =
      "local ok, e = pcall(deny)\n"
      "return ok, e.kind, e.message, e.step_key, tostring(e), e.where, getmetatable(e)";
  REQUIRE(luaL_loadbuffer(s.L, code.data(), code.size(), "@script.lua") == LUA_OK);
  REQUIRE(lua_pcall(s.L, 0, 7, 0) == LUA_OK);
  CHECK(lua_toboolean(s.L, 1) == 0);
  CHECK(std::string(lua_tostring(s.L, 2)) == "capability_denied");
  CHECK(std::string(lua_tostring(s.L, 3)) == "tool charge_card needs billing:write");
  CHECK(std::string(lua_tostring(s.L, 4)) == "charge");
  CHECK(std::string(lua_tostring(s.L, 5)) ==
        "capability_denied: tool charge_card needs billing:write (step 'charge')");
  // pcall (a C function) called deny, so `where` is the chunk's line, not "[C]".
  CHECK(std::string(lua_tostring(s.L, 6)) == "script.lua:1");
  CHECK(std::string(lua_tostring(s.L, 7)) == "artana.error");  // protected metatable
}

TEST_CASE("a plain kernel error has the status code as kind and no step_key", "[lua]") {
  State s;
  REQUIRE(luaL_dostring(s.L, "local ok, e = pcall(function()\n not_found()\n end) return e") ==
          LUA_OK);
  CHECK(is_error_table(s.L, -1));
  CHECK(s.field(-1, "kind") == "not_found");
  CHECK(s.field(-1, "step_key") == "<none>");
  CHECK(s.field(-1, "where") == "[string \"local ok, e = pcall(function()...\"]:2");
  CHECK(s.to_string(-1) == "not_found: no run r1");
  CHECK(luaL_getmetafield(s.L, -1, "__name") == LUA_TSTRING);
  CHECK(std::string(lua_tostring(s.L, -1)) == "artana.error");
}

TEST_CASE("the traceback handler adds traceback and where to an artana error", "[lua]") {
  State s;
  REQUIRE(s.run("local x = 1\nlocal function charge()\n  deny()\nend\ncharge()\n") == LUA_ERRRUN);
  REQUIRE(is_error_table(s.L, -1));
  CHECK(s.field(-1, "kind") == "capability_denied");
  CHECK(s.field(-1, "where") == "script.lua:3");
  const std::string traceback = s.field(-1, "traceback");
  CHECK(traceback.find("stack traceback:") == 0);
  CHECK(traceback.find("script.lua:3: in") != std::string::npos);
  CHECK(traceback.find("script.lua:5: in") != std::string::npos);
}

TEST_CASE("a string error becomes a script_error table with where and traceback", "[lua]") {
  State s;
  REQUIRE(s.run("local x = 1\nerror('boom')\n") == LUA_ERRRUN);
  REQUIRE(is_error_table(s.L, -1));
  CHECK(s.field(-1, "kind") == "script_error");
  CHECK(s.field(-1, "message") == "script.lua:2: boom");
  CHECK(s.field(-1, "where") == "script.lua:2");
  CHECK(s.field(-1, "traceback").find("stack traceback:") == 0);
  CHECK(s.to_string(-1) == "script_error: script.lua:2: boom");
  lua_pop(s.L, 1);

  REQUIRE(s.run("local t = nil\n\nreturn t.x\n") == LUA_ERRRUN);
  CHECK(s.field(-1, "message").find("attempt to index a nil value") != std::string::npos);
  CHECK(s.field(-1, "where") == "script.lua:3");
}

TEST_CASE("other error values are described by type, never by address", "[lua]") {
  State s;
  REQUIRE(s.run("error(nil)") == LUA_ERRRUN);
  CHECK(s.field(-1, "message") == "(error object is a nil value)");
  lua_pop(s.L, 1);
  REQUIRE(s.run("error(42)") == LUA_ERRRUN);
  CHECK(s.field(-1, "message") == "42");
  lua_pop(s.L, 1);
  REQUIRE(s.run("error(setmetatable({}, {__tostring = function() return 'x' end}))") == LUA_ERRRUN);
  CHECK(s.field(-1, "message") == "(error object is a table value)");
  CHECK(s.field(-1, "kind") == "script_error");
}

TEST_CASE("a plain table with kind and message is adopted as an artana error", "[lua]") {
  State s;
  REQUIRE(s.run("\nerror({kind = 'budget_exceeded', message = 'over $5', step_key = 's1'})") ==
          LUA_ERRRUN);
  REQUIRE(is_error_table(s.L, -1));
  CHECK(s.to_string(-1) == "budget_exceeded: over $5 (step 's1')");
  CHECK(s.field(-1, "where") == "script.lua:2");
}

TEST_CASE("an error-shaped table with its own metatable keeps it and gains a location", "[lua]") {
  State s;
  REQUIRE(luaL_dostring(s.L,
                        "kill = setmetatable({kind = 'limit_exceeded', message = 'out of fuel'},"
                        " {__newindex = function() error('no writes') end})") == LUA_OK);
  REQUIRE(s.run("\nerror(kill)") == LUA_ERRRUN);
  CHECK_FALSE(is_error_table(s.L, -1));
  lua_getglobal(s.L, "kill");
  CHECK(lua_rawequal(s.L, -1, -2));  // the same object, not a wrapper
  lua_pop(s.L, 1);
  CHECK(s.field(-1, "where") == "script.lua:2");
  const BoundaryError e = read_error(s.L, -1);
  CHECK(std::string(e.kind) == "limit_exceeded");
  CHECK(std::string(e.message) == "out of fuel");
}

TEST_CASE("a rethrown error keeps the place it was first raised", "[lua]") {
  State s;
  REQUIRE(s.run("local ok, e = pcall(deny)\n\nerror(e)\n") == LUA_ERRRUN);
  CHECK(s.field(-1, "where") == "script.lua:1");
  CHECK(s.field(-1, "traceback").find("script.lua:3") != std::string::npos);
}

TEST_CASE("read_error carries a Lua error back into C++", "[lua]") {
  State s;
  REQUIRE(s.run("local function f()\n  deny()\nend\nf()\n") == LUA_ERRRUN);
  int top = lua_gettop(s.L);
  BoundaryError e = read_error(s.L, -1);
  CHECK(lua_gettop(s.L) == top);
  CHECK(std::string(e.kind) == "capability_denied");
  CHECK(std::string(e.message) == "tool charge_card needs billing:write");
  CHECK(std::string(e.step_key) == "charge");
  CHECK(std::string(e.where) == "script.lua:2");
  lua_pop(s.L, 1);

  // And back into Lua again: the same fields, where kept.
  push_error(s.L, e);
  CHECK(is_error_table(s.L, -1));
  CHECK(s.to_string(-1) ==
        "capability_denied: tool charge_card needs billing:write (step 'charge')");
  CHECK(s.field(-1, "where") == "script.lua:2");
  lua_pop(s.L, 1);

  lua_pushliteral(s.L, "oops");
  e = read_error(s.L, -1);
  CHECK(std::string(e.kind) == "script_error");
  CHECK(std::string(e.message) == "oops");
  lua_pop(s.L, 1);
  lua_pushinteger(s.L, 42);
  CHECK(std::string(read_error(s.L, -1).message) == "42");
  CHECK(lua_isinteger(s.L, -1));  // not converted in place
  lua_pop(s.L, 1);
  lua_pushnumber(s.L, 1.5);
  CHECK(std::string(read_error(s.L, -1).message) == "1.5");
  lua_pop(s.L, 1);
  lua_pushnil(s.L);
  CHECK(std::string(read_error(s.L, -1).message) == "(error object is a nil value)");
  lua_pop(s.L, 1);
}

TEST_CASE("text too long for a BoundaryError is cut at a character and marked with …", "[lua]") {
  std::string message;
  for (int i = 0; i < 1000; ++i) message += "é";  // 2000 bytes
  const BoundaryError e = BoundaryError::make(std::string(100, 'k'), message, "step");
  const std::string_view kept(e.message);
  CHECK(kept.size() < sizeof e.message);
  CHECK(kept.size() > 1000);
  CHECK(kept.substr(kept.size() - 3) == "…");
  CHECK(kernel::is_valid_utf8(kept));
  CHECK(std::strlen(e.kind) == sizeof e.kind - 1);
  CHECK(std::string_view(e.kind).substr(std::strlen(e.kind) - 3) == "…");
  CHECK(std::string(e.step_key) == "step");
  CHECK(std::string(BoundaryError::make("k", std::string(1023, 'm')).message).size() == 1023);
}

}  // namespace
}  // namespace artana::lua
