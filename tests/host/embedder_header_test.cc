// What an embedder's translation unit gets from host.h: the Host API and its options, not
// Lua's headers (an engine may bring its own Lua).
#include "artana/host/host.h"

#ifdef LUA_VERSION_NUM
#error "host.h includes Lua's headers; embedders must not get them (lua_limits.h holds LuaLimits)"
#endif

#include <catch2/catch.hpp>

TEST_CASE("host options default to the documented execution limits", "[host][embedding]") {
  artana::host::HostOptions options;
  CHECK(options.limits.max_memory_bytes == size_t{256} << 20);
  CHECK(options.limits.max_instructions == 1'000'000'000u);
}
