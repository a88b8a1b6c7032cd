// push_object_members: a recorded result's JSON text becomes the script's table directly. It
// must give the same Lua values push_json gives for the parsed text, keep only the members
// asked for, and fail cleanly: text that is not JSON raises storage_error through the
// syscall boundary, a heap at its limit is an error status, never a crash.
#include <lua.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/json_parse.h"
#include "artana/lua/lua_error.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/syscall_bridge.h"
#include "lua/lua_test_state.h"

using artana::kernel::Json;
using artana::lua::LuaLimits;
using artana::lua::LuaState;

namespace {

std::unique_ptr<LuaState> state_of(size_t max_memory = 32 << 20) {
  LuaLimits limits;
  limits.max_memory_bytes = max_memory;
  return artana::testing::make_state(limits);
}

constexpr std::string_view kResultMembers[] = {"output", "usage", "tool_calls"};

// The table at the top as JSON, popped.
Json pop_json(lua_State* L) {
  auto json = artana::lua::to_json(L, -1, "value");
  lua_pop(L, 1);
  REQUIRE(json.ok());
  return *json;
}

}  // namespace

TEST_CASE("a recorded object's members become the same Lua values push_json makes", "[lua][json]") {
  auto state = state_of();
  lua_State* L = state->state();
  const std::string text =
      R"({"cost_micro_usd":7,"output":{"gone":null,"items":[1,2.5,"three",true,{"deep":[[]]}],)"
      R"("text":"caf\u00e9 \"q\""},"request_hash":"ab","tool_calls":[],)"
      R"("usage":{"completion_tokens":3,"prompt_tokens":12}})";
  const Json extra = Json::object({{"replayed", true}, {"seq", 42}, {"run_id", "r-1"}});
  const char* problem = nullptr;
  REQUIRE(artana::lua::push_object_members(L, text, kResultMembers, extra, &problem) == LUA_OK);
  const Json from_text = pop_json(L);

  // The reference: the parsed text's members through push_json.
  Json parsed = *artana::kernel::parse_json(text, "payload");
  Json expected = Json::object();
  for (std::string_view name : kResultMembers) {
    if (const Json* member = parsed.find(name)) expected.set(std::string(name), *member);
  }
  for (const auto& [name, value] : extra.as_object()) expected.set(name, value);
  REQUIRE(artana::lua::push_json(L, expected) == LUA_OK);
  const Json from_tree = pop_json(L);

  CHECK(from_text == from_tree);
  CHECK(from_text.find("cost_micro_usd") == nullptr);  // not asked for
  CHECK(from_text.find("request_hash") == nullptr);    // the ledger's, not the script's
  CHECK(from_text.find("tool_calls")->is_array());     // [] stays an array
  CHECK(from_text.find("output")->find("text")->as_string() == "caf\xc3\xa9 \"q\"");
  CHECK(from_text.find("seq")->as_integer() == 42);
  CHECK(lua_gettop(L) == 0);
}

TEST_CASE("text that is not a JSON object pushes nothing and says why", "[lua][json]") {
  auto state = state_of();
  lua_State* L = state->state();
  const Json extra = Json::object();
  for (const char* bad : {"{\"output\":", "[1,2]", "\"text\"", "", "{\"a\":1} trailing"}) {
    INFO(bad);
    const char* problem = nullptr;
    CHECK(artana::lua::push_object_members(L, bad, kResultMembers, extra, &problem) ==
          LUA_ERRSYNTAX);
    REQUIRE(problem != nullptr);
    CHECK(std::string(problem).size() > 0);
    CHECK(lua_gettop(L) == 0);
  }
}

// A memory limit ends the run (LuaState kills the state, as for any allocation past it): what
// matters here is that it comes back as a status, the error object on top, not a jump.
TEST_CASE("a result bigger than the heap left is an error status", "[lua][json]") {
  auto state = state_of(4 << 20);
  lua_State* L = state->state();
  std::string text = R"({"output":[)";
  for (int i = 0; i < 200000; ++i) text += (i ? ",\"item-" : "\"item-") + std::to_string(i) + "\"";
  text += "]}";
  const char* problem = nullptr;
  const int status =
      artana::lua::push_object_members(L, text, kResultMembers, Json::object(), &problem);
  CHECK(status == LUA_ERRMEM);
  CHECK(lua_gettop(L) == 1);  // the error object
  lua_settop(L, 0);
}

namespace {

// Replies to every syscall with a recorded value: the text it was given.
struct RecordedHandler final : artana::lua::SyscallHandler {
  artana::lua::SyscallReply reply;
  explicit RecordedHandler(std::string text) {
    reply.kind = artana::lua::SyscallReply::Kind::kRecordedValue;
    reply.source = std::move(text);
    reply.members = kResultMembers;
    reply.value = Json::object({{"replayed", true}});
    reply.chunkname = "model:7";
  }
  artana::lua::SyscallReply& handle(lua_State*, artana::lua::SyscallOp) override { return reply; }
};

}  // namespace

TEST_CASE("a recorded value that is not JSON raises storage_error naming its step",
          "[lua][json][boundary]") {
  auto state = state_of();
  lua_State* L = state->state();
  RecordedHandler good(R"({"output":{"text":"ok"},"step_key":"model:7"})");
  state->set_handler(&good);
  artana::lua::push_syscall(L, artana::lua::SyscallOp::kLoadModule);
  REQUIRE(lua_pcall(L, 0, 1, 0) == LUA_OK);
  const Json value = pop_json(L);
  CHECK(value == Json::object({{"output", Json::object({{"text", "ok"}})}, {"replayed", true}}));

  RecordedHandler edited(R"({"output":{"text":"ok"},)");  // hashed again after an edit
  state->set_handler(&edited);
  artana::lua::push_syscall(L, artana::lua::SyscallOp::kLoadModule);
  REQUIRE(lua_pcall(L, 0, 1, 0) == LUA_ERRRUN);
  const artana::lua::BoundaryError error = artana::lua::read_error(L, -1);
  lua_pop(L, 1);
  CHECK(std::string(error.kind) == "storage_error");
  CHECK(std::string(error.step_key) == "model:7");
  CHECK_THAT(std::string(error.message),
             Catch::Contains("model:7") && Catch::Contains("not a JSON object"));
  REQUIRE(state->run_chunk("local x = 1 + 1 assert(x == 2)", "after").ok());
}

// RFC 8785 writes integral doubles in [2^64, 1e21) with all their digits, which simdjson
// refuses: those texts take the kernel's parser, with the same result.
TEST_CASE("numbers simdjson refuses are read as the kernel reads them", "[lua][json]") {
  auto state = state_of();
  lua_State* L = state->state();
  const std::string text = R"({"output":{"v":[18446744073709552000,100000000000000000000,1e+21]}})";
  const char* problem = nullptr;
  REQUIRE(artana::lua::push_object_members(L, text, kResultMembers, Json::object(), &problem) ==
          LUA_OK);
  const Json value = pop_json(L);
  const Json& v = *value.find("output")->find("v");
  REQUIRE(v.size() == 3);
  CHECK(v.as_array()[0].as_number() == 18446744073709552000.0);  // 2^64, as RFC 8785 writes it
  CHECK(v.as_array()[1].as_number() == 1e20);
  CHECK(v.as_array()[2].as_number() == 1e21);
}
