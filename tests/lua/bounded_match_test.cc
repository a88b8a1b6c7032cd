// The sandbox's step-bounded string.find/match/gmatch/gsub (bounded_match.h): the same
// results and error messages as Lua 5.4.4's own, and a pathological pattern ends with the
// run's uncatchable instruction-limit kill instead of hanging the host.
#include "bounded_match.h"

#include <lua.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "artana/lua/lua_state.h"
#include "lua/lua_test_state.h"

using artana::lua::LuaLimits;
using artana::lua::LuaState;
using artana::lua::SandboxOptions;

namespace {

// Each case is a Lua expression; its results (or its error message) become one line.
const char* const kCases[] = {
    // find: init, negative init, init past the end, plain, specials, anchors.
    "('hello world'):find('o')",
    "('hello world'):find('o', 6)",
    "('hello world'):find('o', -3)",
    "('hello world'):find('o', -100)",
    "('hello'):find('', 10)",
    "('hello'):find('', 6)",
    "('hello'):find('l', 0)",
    "('a+b'):find('+', 1, true)",
    "('a.b'):find('.', 2, true)",
    "('a.b'):find('.', 2)",
    "('abc'):find('')",
    "('aaa'):find('aa', 2, true)",
    "('a\\0b'):find('\\0')",
    "('a\\0b'):find('%z')",
    "('hello'):find('^h')",
    "('hello'):find('^e')",
    "('hello'):find('o$')",
    "('hel$lo'):find('l$l')",
    "('hello'):find('l+')",
    "('hello'):find('(l)(l)')",
    "('hello'):find('()ll()')",
    // match: captures, position captures, quantifiers, classes, sets.
    "('key = value'):match('^(%w+)%s*=%s*(%w+)$')",
    "('  trim  '):match('^%s*(.-)%s*$')",
    "('hello'):match('.-')",
    "('hello'):match('.*')",
    "('hello'):match('l*')",
    "('hello'):match('x?h')",
    "('2024-01-15'):match('(%d+)-(%d+)-(%d+)')",
    "('abc'):match('()b()')",
    "('abc'):match('((a)(b))')",
    "('hello world'):match('(o)(.-)%1')",
    "('[[x]]'):match('%[(.-)%]')",
    "('x-y_z'):match('[%w_-]+', 2)",
    "('ABCdef'):match('[^%u]+')",
    "('a]b'):match('[]]')",
    "('a^b'):match('[b^]+')",
    "('f(a(b)c)d'):match('%b()')",
    "('[a[b]]'):match('%b[]')",
    "('((('):match('%b()')",
    "('THE (quick) fox'):match('%f[%a]%a+')",
    "('THE (quick) fox'):match('%f[%l]%a+')",
    "('hello'):match('%f[%z]')",
    "('abc123def'):match('%a+(%d+)%a+$')",
    "('\\t x\\n'):match('%s+()')",
    "('x=1, y=2'):match('(%a)=(%d)', 5)",
    "('%d'):match('%%d')",
    "('a.b'):match('%.')",
    "('0xFF'):match('0x(%x+)')",
    "('ctl\\1'):match('%c')",
    "('punct!'):match('%p')",
    "('MiXeD'):match('%l+')",
    "('MiXeD'):match('%U+')",
    "('a1 b2'):match('%W')",
    "('abc'):match('^(a)(b)(c)$')",
    "('aaa'):match('^(a-)a$')",
    "(''):match('^$')",
    "(''):match('.')",
    // gmatch: captures, anchors (literal in 5.4 gmatch), empty matches, init.
    "collect(('one two  three'):gmatch('%a+'))",
    "collect(('k1=v1, k2=v2'):gmatch('(%w+)=(%w+)'))",
    "collect(('abc'):gmatch(''))",
    "collect(('abc'):gmatch('()'))",
    "collect(('a,b,,c'):gmatch('([^,]*)'))",
    "collect(('hello'):gmatch('^h'))",
    "collect(('one two three'):gmatch('%a+', 5))",
    "collect(('one two three'):gmatch('%a+', -5))",
    "collect(('one two three'):gmatch('%a+', 100))",
    // gsub: string replacements with %0..%9 and %%, tables, functions, max n, anchors.
    "('hello world'):gsub('o', '0')",
    "('hello world'):gsub('(o)', '[%1]')",
    "('hello world'):gsub('%w+', '<%0>')",
    "('hello world'):gsub('(%w+) (%w+)', '%2 %1')",
    "('abc'):gsub('', '-')",
    "('abc'):gsub('%w', '%%')",
    "('abc'):gsub('()b', '%1')",
    "('hello world'):gsub('o', '0', 1)",
    "('hello world'):gsub('o', '0', 0)",
    "('hello world'):gsub('o', '0', -1)",
    "('hello hello'):gsub('^hello', 'bye')",
    "('$name is $age'):gsub('%$(%w+)', {name = 'ann', age = 7})",
    "('$name is $x'):gsub('%$(%w+)', {name = 'ann', x = false})",
    "('abc'):gsub('%w', {a = 1, b = 2.5})",
    "('hello world'):gsub('%w+', string.upper)",
    "('hello world'):gsub('%w+', function(w) if w == 'world' then return nil end "
    "return w:reverse() end)",
    "('a=1,b=2'):gsub('(%w)=(%w)', function(k, v) return v .. k end)",
    "('abc'):gsub('()', function(p) return p end)",
    "('x'):gsub('x', 5)",
    "string.gsub(12345, '3', 'x')",
    "('a b c'):gsub(' ', '', 1.0)",
    // Malformed patterns and bad replacements: Lua's messages, unchanged.
    "('x'):find('%')",
    "('x'):find('[a')",
    "('x'):find('[a%')",
    "('x'):match('(x')",
    "('x'):match('x)')",
    "('x'):match('%1')",
    "('x'):match('(x)%2')",
    "('x'):match('%b')",
    "('x'):match('%bx')",
    "('x'):match('%fx')",
    "('x'):match(string.rep('(', 40) .. 'x' .. string.rep(')', 40))",
    "('x'):match(string.rep('x?', 300))",
    "('x'):rep(250):match(('x?'):rep(250))",
    "('x'):gsub('x', '%2')",
    "('x'):gsub('x', '%a')",
    "('x'):gsub('x', {x = {}})",
    "('x'):gsub('x', function() return {} end)",
    "('x'):gsub('x', true)",
    "('x'):gsub('(x', 'y')",
    "('x'):find({})",
    "('x'):find('x', 'y')",
    "('x'):gsub('x', 'y', 'z')",
};

// Runs every case under pcall and prints one line per case: "ok" or "err" followed by the
// results, each tagged with its type.
std::string driver_script() {
  std::string script =
      "local lines = {}\n"
      "local function show(...)\n"
      "  local out = {}\n"
      "  for i = 1, select('#', ...) do\n"
      "    local v = select(i, ...)\n"
      "    local t = type(v) == 'number' and math.type(v) or type(v)\n"
      "    out[#out + 1] = t .. ':' .. (type(v) == 'string' and string.format('%q', v)\n"
      "                                 or tostring(v))\n"
      "  end\n"
      "  return table.concat(out, ' ')\n"
      "end\n"
      "local function collect(iter)\n"
      "  local out = {}\n"
      "  for a, b in iter do out[#out + 1] = show(a, b) end\n"
      "  return table.concat(out, ' | ')\n"
      "end\n"
      "local function check(f)\n"
      "  local r = table.pack(pcall(f))\n"
      "  if r[1] then lines[#lines + 1] = 'ok ' .. show(table.unpack(r, 2, r.n))\n"
      "  else lines[#lines + 1] = 'err ' .. tostring(r[2]) end\n"
      "end\n";
  for (const char* c : kCases) script += std::string("check(function() return ") + c + " end)\n";
  script += "print(table.concat(lines, '\\n'))\n";
  return script;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  lines.push_back(text.substr(start));
  return lines;
}

// print for the reference state: appends its one argument to the std::string upvalue.
int capture_print(lua_State* L) {
  auto* out = static_cast<std::string*>(lua_touserdata(L, lua_upvalueindex(1)));
  size_t len = 0;
  const char* s = luaL_checklstring(L, 1, &len);
  out->append(s, len);
  return 0;
}

// Runs the driver under the chunk name run_chunk gives it, so error positions compare
// equal. Returns the error message, or "" on success.
std::string run_script(lua_State* L, const std::string& script) {
  int status = luaL_loadbuffer(L, script.data(), script.size(), "=compare");
  if (status == LUA_OK) status = lua_pcall(L, 0, 0, 0);
  return status == LUA_OK ? "" : lua_tostring(L, -1);
}

// The driver's output on stock Lua: luaL_newstate + luaL_openlibs, lstrlib's matcher.
std::string reference_output(const std::string& script) {
  std::string out;
  lua_State* L = luaL_newstate();
  REQUIRE(L != nullptr);
  luaL_openlibs(L);
  lua_pushlightuserdata(L, &out);
  lua_pushcclosure(L, capture_print, 1);
  lua_setglobal(L, "print");
  std::string error = run_script(L, script);
  lua_close(L);
  REQUIRE(error == "");
  return out;
}

std::unique_ptr<LuaState> make_state(const LuaLimits& limits, std::vector<std::string>* lines) {
  SandboxOptions options;
  options.print_sink = [lines](std::string_view line) { lines->emplace_back(line); };
  return artana::testing::make_state(limits, options);
}

LuaLimits pathological_limits() {
  LuaLimits limits;
  limits.max_instructions = 10'000'000;
  return limits;
}

// Runs `call` inside pcall on a 1 KiB subject `s` with a 10^7 instruction budget and
// checks the kill ended the run: pcall did not catch it, the chunk's next line never ran,
// and no more than a quantum of matcher steps ran past the limit.
void require_killed_by_budget(const std::string& call) {
  std::vector<std::string> lines;
  const LuaLimits limits = pathological_limits();
  auto state = make_state(limits, &lines);
  artana::Status s = state->run_chunk(
      "local s = string.rep('a', 1024)\n"
      "local ok, e = pcall(function() return " +
          call +
          " end)\n"
          "print('pcall returned', ok, e)",
      "pathological");
  INFO(call);
  REQUIRE(s.kind() == "limit_exceeded");
  REQUIRE_THAT(s.message(), Catch::Contains("instruction limit"));
  REQUIRE(lines.empty());
  REQUIRE(state->killed());
  REQUIRE(state->instructions() <=
          limits.max_instructions + limits.slice_instructions + artana::lua::detail::kStepQuantum);
}

}  // namespace

TEST_CASE("sandboxed pattern functions return what stock Lua 5.4 returns", "[sandbox][lua]") {
  const std::string script = driver_script();
  const std::vector<std::string> expected = split_lines(reference_output(script));
  REQUIRE(expected.size() == std::size(kCases));

  std::vector<std::string> lines;
  auto state = make_state(LuaLimits{}, &lines);
  artana::Status s = state->run_chunk(script, "compare");
  INFO(s.message());
  REQUIRE(s.ok());
  REQUIRE(lines.size() == 1);
  const std::vector<std::string> actual = split_lines(lines[0]);
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(kCases[i]);
    CHECK(actual[i] == expected[i]);
  }
}

TEST_CASE("the bounded functions match stock Lua on a state no LuaState owns", "[sandbox][lua]") {
  const std::string script = driver_script();
  const std::string expected = reference_output(script);
  std::string out;
  lua_State* L = luaL_newstate();
  REQUIRE(L != nullptr);
  luaL_openlibs(L);
  lua_getglobal(L, "string");
  const luaL_Reg bounded[] = {{"find", artana::lua::detail::bounded_find},
                              {"match", artana::lua::detail::bounded_match},
                              {"gmatch", artana::lua::detail::bounded_gmatch},
                              {"gsub", artana::lua::detail::bounded_gsub},
                              {nullptr, nullptr}};
  luaL_setfuncs(L, bounded, 0);
  lua_pop(L, 1);  // the string table
  lua_pushlightuserdata(L, &out);
  lua_pushcclosure(L, capture_print, 1);
  lua_setglobal(L, "print");
  std::string error = run_script(L, script);
  lua_close(L);
  REQUIRE(error == "");
  REQUIRE(out == expected);
}

TEST_CASE("a backtracking find on a 1 KiB subject ends with the instruction-limit kill",
          "[sandbox][lua]") {
  require_killed_by_budget("s:find(string.rep('a-', 15) .. 'b')");
}

TEST_CASE("a backtracking match on a 1 KiB subject ends with the instruction-limit kill",
          "[sandbox][lua]") {
  require_killed_by_budget("s:match(('a*'):rep(20) .. 'b')");
}

TEST_CASE("a backtracking gsub on a 1 KiB subject ends with the instruction-limit kill",
          "[sandbox][lua]") {
  require_killed_by_budget("s:gsub(string.rep('a-', 15) .. 'b', 'x')");
}

TEST_CASE("a backtracking gmatch on a 1 KiB subject ends with the instruction-limit kill",
          "[sandbox][lua]") {
  require_killed_by_budget("(function() for m in s:gmatch(('a*'):rep(20) .. 'b') do end end)()");
}

TEST_CASE("a gsub replacement function that loops forever ends with the kill", "[sandbox][lua]") {
  require_killed_by_budget("s:gsub('a', function() while true do end end)");
}

TEST_CASE("long patterns with many quantifiers are no longer refused", "[sandbox][lua]") {
  std::vector<std::string> lines;
  auto state = make_state(LuaLimits{}, &lines);
  artana::Status s = state->run_chunk(
      "local p = string.rep('%a?', 100) .. string.rep('[%w_]', 150)\n"
      "assert(#p > 256)\n"
      "local s = string.rep('x', 100) .. string.rep('_', 150)\n"
      "assert(s:find(p) == 1)\n"
      "assert(select(2, s:gsub(string.rep('x-', 40), '')) == 251)",
      "long_pattern");
  INFO(s.message());
  REQUIRE(s.ok());
}

TEST_CASE("matcher steps are charged to the instruction budget", "[sandbox][lua]") {
  std::vector<std::string> lines;
  auto state = make_state(LuaLimits{}, &lines);
  const uint64_t before = state->instructions();
  REQUIRE(state->run_chunk("local s = string.rep('a', 100000) assert(not s:find('[b]'))", "steps")
              .ok());
  // One step per start position at least: far more than the chunk's few VM instructions.
  REQUIRE(state->instructions() - before >= 100000);
}
