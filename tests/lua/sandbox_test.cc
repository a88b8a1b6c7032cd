// Escapes from docs/lua_binding.md fail with sandbox_violation, the state stays usable,
// and iteration order is the same in every state.
#include "artana/lua/sandbox.h"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "artana/lua/lua_state.h"

using artana::lua::LuaLimits;
using artana::lua::LuaState;
using artana::lua::SandboxOptions;

namespace {

struct Fixture {
  std::vector<std::string> lines;
  std::unique_ptr<LuaState> state;
  Fixture() {
    SandboxOptions options;
    options.print_sink = [this](std::string_view line) { lines.emplace_back(line); };
    auto created = LuaState::create(LuaLimits{}, options);
    REQUIRE(created.ok());
    state = std::move(created).value();
  }
  artana::Status run(const std::string& source) { return state->run_chunk(source, "t"); }
  // Runs `source`, which asserts what it checks; a failed assert is reported with its text.
  void require_ok(const std::string& source) {
    artana::Status status = run(source);
    INFO(status.to_string());
    REQUIRE(status.ok());
  }
};

}  // namespace

TEST_CASE("every known escape raises sandbox_violation and the state stays usable",
          "[sandbox][lua]") {
  Fixture f;
  const char* escapes[] = {
      "load(string.dump(function() end))",
      "load('\\27Lua' .. 'x')",
      "return load('return io')().open",
      "local g = load('return _G')() g.x = 1",
      "return string.dump(print)",
      "return debug.getregistry()",
      "return io.open('/etc/passwd')",
      "return os.execute('true')",
      "return os.time()",
      "return package.loaded",
      "return dofile('/etc/passwd')",
      "return loadfile('/etc/passwd')",
      "collectgarbage('stop')",
      "collectgarbage()",
      "collectgarbage('count')",  // differs live and replayed: run:memory() records it
      "setmetatable({}, {__gc = function() end})",
      "setmetatable({}, {__mode = 'k'})",
      "local mt = {} setmetatable({}, mt) mt.__mode = 'k'",
      "rawset({}, '__gc', print)",
      "getmetatable('').__index = {}",
      "getmetatable('').__index.upper = nil",
      "string.upper = nil",
      "math.floor = nil",
      "x = 1",
      "rawset(_G, 'x', 1)",
      "setmetatable(_G, nil)",
      "return undefined_name",
      "return math.random(1, 6)",
      "return string.format('%p', {})",
  };
  for (const char* escape : escapes) {
    INFO(escape);
    artana::Status s = f.run(escape);
    REQUIRE(s.kind() == "sandbox_violation");
  }
  REQUIRE(f.run("local t = {} t[1] = 'ok' assert(#t == 1)").ok());
}

TEST_CASE("violations name the thing and the syscall to use instead", "[sandbox][lua]") {
  Fixture f;
  REQUIRE_THAT(f.run("return os.time()").message(),
               Catch::Contains("os.time") && Catch::Contains("run:now()"));
  REQUIRE_THAT(f.run("return math.random()").message(), Catch::Contains("run:random()"));
  REQUIRE_THAT(f.run("return io.popen('ls')").message(), Catch::Contains("tool"));
  REQUIRE_THAT(f.run("return io.open('x')").message(), Catch::Contains("run:artifact"));
  REQUIRE_THAT(f.run("counter = 1").message(),
               Catch::Contains("counter") && Catch::Contains("use local"));
  REQUIRE_THAT(f.run("return nope").message(), Catch::Contains("nope"));
}

TEST_CASE("violations can be caught by pcall as error tables", "[sandbox][lua]") {
  Fixture f;
  REQUIRE(f.run("local ok, e = pcall(function() x = 1 end)\n"
                "assert(not ok and e.kind == 'sandbox_violation')\n"
                "assert(tostring(e):find('sandbox_violation', 1, true))")
              .ok());
  // The one error shape of lua_error.h: `where` names the line, and the table is read-only
  // to its metatable.
  f.require_ok(
      "local ok, e = pcall(function() return os.time() end)\n"
      "assert(type(e.where) == 'string' and e.where:find(':1$'), tostring(e.where))\n"
      "assert(e.message:find('run:now', 1, true), e.message)\n"
      "assert(getmetatable(e) ~= nil and not pcall(setmetatable, e, nil))");
}

TEST_CASE("load runs text in the sandbox environment only", "[sandbox][lua]") {
  Fixture f;
  REQUIRE(f.run("local fn = assert(load('return 1 + 1')) assert(fn() == 2)\n"
                "local g = load('return string')() assert(g == string)\n"
                "local e = load('return y', 'c', 't', {y = 5})() assert(e == 5)")
              .ok());
}

TEST_CASE("print goes to the host's sink", "[sandbox][lua]") {
  Fixture f;
  REQUIRE(f.run("print('hello', 1, nil, true, {})").ok());
  REQUIRE(f.lines == std::vector<std::string>{"hello\t1\tnil\ttrue\ttable"});
}

TEST_CASE("tostring and string.format show no addresses", "[sandbox][lua]") {
  Fixture f;
  REQUIRE(f.run("assert(tostring({}) == 'table')\n"
                "assert(tostring(print) == 'function')\n"
                "assert(tostring(coroutine.create(print)) == 'thread')\n"
                "assert(string.format('%s|%5s', {}, 'x') == 'table|    x')\n"
                "local t = setmetatable({}, {__tostring = function() return 'T' end})\n"
                "assert(tostring(t) == 'T')\n"
                "assert(not tostring({}):find('0x'))")
              .ok());
}

TEST_CASE("allowed builtins work as in stock Lua", "[sandbox][lua]") {
  Fixture f;
  REQUIRE(f.run("assert(select('#', table.unpack({1, 2, 3})) == 3)\n"
                "assert(math.floor(2.5) == 2 and utf8.char(72) == 'H')\n"
                "local mt = {__index = function(_, k) return k .. '!' end}\n"
                "local o = setmetatable({}, mt) assert(o.hi == 'hi!')\n"
                "assert(getmetatable(o) == mt and getmetatable(mt) == nil)\n"
                "mt.__call = function() return 7 end assert(o() == 7)\n"
                "local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) "
                "return b * 2 end)\n"
                "assert(co(1) == 2 and co(5) == 10)\n"
                "assert(select(2, xpcall(error, function(m) return 'h:' .. m end, 'x')) == 'h:x')")
              .ok());
}

namespace {

std::vector<std::string> visit_order(Fixture& f) {
  f.lines.clear();
  const artana::Status s = f.run(
      "local t = {}\n"
      "for i = 1, 15 do t['k' .. (i * 7919 % 101)] = i end\n"
      "for i = 1, 15 do t[i * 3 - 20] = i end\n"
      "for i = 1, 10 do t[i + 0.5] = i end\n"
      "t[1e300] = 1 t[-1e300] = 2 t[true] = 3 t[false] = 4 t['Z'] = 5 t[''] = 6\n"
      "t['a b'] = 9 t[0.25] = 10\n"
      "t[math.maxinteger] = 7 t[math.mininteger] = 8\n"
      "local n = 0 for k in pairs(t) do print(type(k) .. ':' .. tostring(k)) n = n + 1 end\n"
      "local k, m = next(t), 0 while k ~= nil do m = m + 1 k = next(t, k) end\n"
      "assert(n == m)");
  REQUIRE(s.ok());
  return f.lines;
}

}  // namespace

TEST_CASE("pairs order is the same in two separately created states", "[sandbox][lua]") {
  Fixture a;
  Fixture b;
  const auto first = visit_order(a);
  const auto second = visit_order(b);
  REQUIRE(first.size() == 50);
  REQUIRE(first == second);
  REQUIRE(first.front() == "number:-1e+300");
  REQUIRE(first[1] == "number:" + std::to_string(INT64_MIN));
  REQUIRE(first[first.size() - 2] == "boolean:false");
  REQUIRE(first.back() == "boolean:true");
}

TEST_CASE("pairs over a table with a table key raises sandbox_violation", "[sandbox][lua]") {
  Fixture f;
  artana::Status s = f.run("local t = {[{}] = 1} for k in pairs(t) do end");
  REQUIRE(s.kind() == "sandbox_violation");
  REQUIRE_THAT(s.message(), Catch::Contains("table key"));
  REQUIRE(f.run("local t = {a = 1, b = 2} for k in pairs(t) do t[k] = nil end "
                "assert(next(t) == nil)")
              .ok());
}

// The scripts' libraries are copies, some functions wrapped to charge their work: an error
// in one still names it as the stock library would.
TEST_CASE("argument errors name the library function, wrapped or not", "[sandbox][lua]") {
  Fixture f;
  f.require_ok(
      "local function said(fn, ...) local ok, e = pcall(fn, ...) assert(not ok) return e end\n"
      "local cases = {\n"
      "  {string.upper, \"'string.upper'\"}, {string.rep, \"'string.rep'\"},\n"
      "  {math.floor, \"'math.floor'\"}, {utf8.char, \"'utf8.char'\"},\n"
      "  {coroutine.resume, \"'coroutine.resume'\"}, {select, \"'select'\"},\n"
      "  {table.move, \"'table.move'\"}, {string.byte, \"'string.byte'\"},\n"
      "}\n"
      "for _, c in ipairs(cases) do\n"
      "  local e = said(c[1], {})\n"
      "  assert(tostring(e):find(c[2], 1, true), tostring(e))\n"
      "end");
}
