// A deferred syscall (SyscallReply::kDefer): the handler does not answer, the host thread
// yields, and resumed with no values it makes the same syscall again — same arguments — to
// the handler its state has then. The yield passes up through a script's own coroutines like
// any syscall's, and a syscall deferred where the thread cannot yield is an error, not a hang.
#include <lua.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/lua/lua_error.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/sandbox.h"
#include "artana/lua/syscall_bridge.h"
#include "lua/lua_test_state.h"

using artana::kernel::Json;
using artana::lua::SyscallOp;
using artana::lua::SyscallReply;

namespace {

// Defers its first `defers` calls, then answers each with {n = arg 1, s = arg 2}.
struct DeferringHandler final : artana::lua::SyscallHandler {
  int defers = 0;
  int calls = 0;
  std::vector<std::string> seen;  // "n s" of each call
  SyscallReply reply;
  SyscallReply& handle(lua_State* L, SyscallOp) override {
    ++calls;
    const std::string s = lua_tostring(L, 2) != nullptr ? lua_tostring(L, 2) : "";
    seen.push_back(std::to_string(lua_tointeger(L, 1)) + " " + s);
    if (defers > 0) {
      --defers;
      reply.kind = SyscallReply::Kind::kDefer;
      return reply;
    }
    reply.kind = SyscallReply::Kind::kValue;
    reply.value = Json::object({{"n", static_cast<int64_t>(lua_tointeger(L, 1))}, {"s", s}});
    return reply;
  }
};

// A host thread running `code` (a chunk in the sandbox, given the syscall closure for `op`
// as its argument `...`), resumed once; `*status` and `*nresults` of that resume.
lua_State* start(artana::lua::LuaState& state, const std::string& code, SyscallOp op, int* status,
                 int* nresults) {
  lua_State* thread = state.new_thread();
  REQUIRE(thread != nullptr);
  REQUIRE(luaL_loadbufferx(thread, code.data(), code.size(), "=test", "t") == LUA_OK);
  artana::lua::push_sandbox_env(thread);
  REQUIRE(lua_setupvalue(thread, -2, 1) != nullptr);
  artana::lua::push_syscall(thread, op);
  *status = lua_resume(thread, state.state(), 1, nresults);
  return thread;
}

// A state whose handler defers its first `defers` syscalls.
struct Deferring {
  DeferringHandler handler;  // outlives the state that points at it
  std::unique_ptr<artana::lua::LuaState> state = artana::testing::make_state();
  explicit Deferring(int defers) {
    handler.defers = defers;
    state->set_handler(&handler);
  }
  Deferring(const Deferring&) = delete;
  Deferring& operator=(const Deferring&) = delete;
};

Json result_of(lua_State* thread) {
  auto json = artana::lua::to_json(thread, -1, "result");
  REQUIRE(json.ok());
  return *json;
}

}  // namespace

TEST_CASE("a deferred syscall is made again, with its arguments, to the handler of its resume",
          "[lua][boundary]") {
  Deferring first(1000);  // the first handler defers everything it is asked
  auto& state = first.state;
  DeferringHandler& other = first.handler;
  int status = 0, n = 0;
  lua_State* thread =
      start(*state, "local sys = ... return sys(7, 'seven')", SyscallOp::kNow, &status, &n);
  REQUIRE(status == LUA_YIELD);
  CHECK(artana::lua::is_syscall_yield(thread, n));
  CHECK(artana::lua::is_deferred_yield(thread, n));
  lua_pop(thread, n);
  CHECK(other.calls == 1);

  // The owner defers once more (asked again: same arguments), then answers.
  DeferringHandler owner;
  owner.defers = 1;
  state->set_handler(&owner);
  REQUIRE(lua_resume(thread, state->state(), 0, &n) == LUA_YIELD);
  CHECK(artana::lua::is_deferred_yield(thread, n));
  lua_pop(thread, n);
  REQUIRE(lua_resume(thread, state->state(), 0, &n) == LUA_OK);
  REQUIRE(n == 1);
  CHECK(result_of(thread) == Json::object({{"n", 7}, {"s", "seven"}}));
  CHECK(other.calls == 1);
  CHECK(owner.calls == 2);
  CHECK(owner.seen == std::vector<std::string>{"7 seven", "7 seven"});
}

TEST_CASE("a syscall deferred inside a script's coroutine passes up to the host and back",
          "[lua][boundary]") {
  Deferring once(1);
  int status = 0, n = 0;
  lua_State* thread = start(*once.state,
                            "local sys = ... "
                            "local inner = coroutine.wrap(function() return sys(3, 'in') end) "
                            "local got = inner() return { n = got.n + 1, s = got.s }",
                            SyscallOp::kNow, &status, &n);
  REQUIRE(status == LUA_YIELD);
  CHECK(artana::lua::is_deferred_yield(thread, n));
  lua_pop(thread, n);
  REQUIRE(lua_resume(thread, once.state->state(), 0, &n) == LUA_OK);
  CHECK(result_of(thread) == Json::object({{"n", 4}, {"s", "in"}}));
  CHECK(once.handler.seen == std::vector<std::string>{"3 in", "3 in"});
}

TEST_CASE("a syscall deferred where its thread cannot yield raises internal, naming it",
          "[lua][boundary]") {
  Deferring once(1);
  int status = 0, n = 0;
  // Inside a table.sort comparator the thread cannot yield: a syscall there that may wait
  // is refused before the handler is asked; one that cannot (require) is asked, and its
  // deferral is refused.
  lua_State* thread = start(*once.state,
                            "local sys = ... local ok, err = pcall(function() "
                            "  table.sort({2, 1}, function(a, b) sys(1, 'x') return a < b end) "
                            "end) return { ok = ok, kind = err.kind, message = err.message }",
                            SyscallOp::kLoadModule, &status, &n);
  REQUIRE(status == LUA_OK);
  const Json result = result_of(thread);
  CHECK(result.find("ok")->as_bool() == false);
  CHECK(result.find("kind")->as_string() == "internal");
  CHECK_THAT(result.find("message")->as_string(),
             Catch::Contains("require") && Catch::Contains("cannot yield"));
  CHECK(once.handler.calls == 1);
}
