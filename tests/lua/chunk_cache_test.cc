// Compiled chunks are reused (chunk_cache.h): a source loaded again in another state runs
// from its cached bytecode with the same results and the same lines in its errors; a changed
// source is compiled afresh; a script that hands in bytecode is still refused.
#include <catch2/catch.hpp>

#include <lua.hpp>

#include <memory>
#include <string>

#include "artana/kernel/json.h"
#include "artana/lua/lua_state.h"
#include "chunk_cache.h"
#include "lua/lua_test_state.h"

using artana::lua::LuaLimits;
using artana::lua::LuaState;

using artana::testing::make_state;

namespace {

std::string dump_of(const std::string& source) {
  lua_State* L = luaL_newstate();
  REQUIRE(luaL_loadstring(L, source.c_str()) == LUA_OK);
  std::string out;
  lua_dump(
      L,
      [](lua_State*, const void* p, size_t n, void* ud) {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(p), n);
        return 0;
      },
      &out, 0);
  lua_close(L);
  return out;
}

}  // namespace

TEST_CASE("a source loaded again runs from its cached bytecode with the same lines",
          "[lua][chunks]") {
  // Unique to this test: no other test caches it first.
  const std::string source =
      "#!/usr/bin/env artana\nlocal n = 0\nfor i = 1, 10 do n = n + i end\n"
      "if n == 55 then error('fifty-five') end\nreturn n\n";
  CHECK(artana::lua::detail::cached_chunk("=cache-lines", source) == nullptr);
  std::string first_error;
  {
    auto state = make_state();
    artana::Status s = state->run_chunk(source, "cache-lines");
    REQUIRE(!s.ok());
    first_error = s.message();
  }
  CHECK(artana::lua::detail::cached_chunk("=cache-lines", source) != nullptr);
  auto state = make_state();
  artana::Status again = state->run_chunk(source, "cache-lines");
  REQUIRE(!again.ok());
  CHECK(again.message() == first_error);
  CHECK_THAT(first_error, Catch::Contains("cache-lines:4: fifty-five"));

  // Edited: compiled afresh, not served the old bytecode.
  std::string edited = source;
  edited.replace(edited.find("55 then"), 2, "56");
  artana::kernel::Json result;
  REQUIRE(state->run_chunk(edited, "cache-lines", &result).ok());
  CHECK(result.as_integer() == 55);
}

TEST_CASE("bytecode handed in as a script is refused, cached or not", "[lua][chunks]") {
  const std::string bytecode = dump_of("return 1");
  auto state = make_state();
  artana::Status s = state->run_chunk(bytecode, "sneaky");
  REQUIRE(!s.ok());
  CHECK_THAT(s.message(), Catch::Contains("precompiled (binary) chunk is refused"));
  CHECK(artana::lua::detail::cached_chunk("=sneaky", bytecode) == nullptr);
}
