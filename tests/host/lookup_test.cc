// run:summary's key and step key, run:lookup and the pure helpers artana.canonical_json and
// artana.sha256, through Lua on a real ledger.
#include <catch2/catch.hpp>

#include "host/host_fixture.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

TEST_CASE("run:summary takes a key and a step key, and run:lookup finds the latest per key",
          "[host][lookup]") {
  HostFixture f;
  const std::string path = f.script("notes.lua", R"lua(
return function(run)
  run:summary("note", { n = 1 }, { key = "a" })
  run:summary("note", { n = 2 }, { key = "b", step_key = "second" })
  run:summary("note", { n = 3 }, { key = "a" })
  run:summary("note", { n = 4 })
  local found = run:lookup { kind = "note" }
  local out = {}
  for i, hit in ipairs(found) do out[i] = hit.key .. "=" .. hit.value.n end
  local two = run:lookup { kind = "note", limit = 2, scope = "run" }
  return { all = table.concat(out, ","), two = #two, run_id = found[1].run_id }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-notes");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("all")->as_string() == "summary:3=4,a=3,b=2");
  CHECK(outcome.output.find("two")->as_integer() == 2);
  CHECK(outcome.output.find("run_id")->as_string() == "run-notes");
  size_t keyed = 0;
  for (const kernel::Event& e : f.events("run-notes")) {
    if (e.type != "run_summary") continue;
    const Json* key = e.payload.find("key");
    if (key != nullptr) ++keyed;
    if (e.payload.find("step_key")->as_string() == "second") CHECK(key->as_string() == "b");
  }
  CHECK(keyed == 3);  // the fourth summary's key is its step key, not repeated
  CHECK(f.count("run-notes", "lookup_read") == 2);
}

TEST_CASE("a replayed run:lookup sees what it saw live, never a later summary of its tenant",
          "[host][lookup]") {
  HostFixture f;
  const std::string writer = f.script("writer.lua", R"lua(
return function(run, input)
  run:summary("lesson", input.text, { key = input.key })
end
)lua");
  const std::string reader = f.script("reader.lua", R"lua(
return function(run)
  local before = run:lookup { kind = "lesson", scope = "tenant" }
  run:pause("wait")
  local after = run:lookup { kind = "lesson", scope = "tenant" }
  local function text(found)
    local out = {}
    for i, hit in ipairs(found) do out[i] = hit.key .. ":" .. hit.value end
    return table.concat(out, ",")
  end
  return { before = text(before), after = text(after) }
end
)lua");
  REQUIRE(f.run(writer, "w1", Json::object({{"key", "k1"}, {"text", "one"}})).status ==
          RunStatus::kCompleted);
  REQUIRE(f.run(reader, "reader").status == RunStatus::kPaused);
  REQUIRE(f.run(writer, "w2", Json::object({{"key", "k2"}, {"text", "two"}})).status ==
          RunStatus::kCompleted);
  host::RunOptions other;
  other.tenant.tenant_id = kernel::TenantId("other");
  REQUIRE(f.run(writer, "o1", Json::object({{"key", "k3"}, {"text", "theirs"}}), other).status ==
          RunStatus::kCompleted);
  f.restart();  // another process resumes it: the run re-executes from the top
  REQUIRE(
      f.kernel_host.kernel->resume(kernel::TenantId("acme"), kernel::RunId("reader"), Json()).ok());
  host::RunOutcome outcome = f.run(reader, "reader");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("before")->as_string() == "k1:one");
  CHECK(outcome.output.find("after")->as_string() == "k2:two,k1:one");
}

TEST_CASE("run:lookup and run:summary refuse bad arguments by name", "[host][lookup]") {
  HostFixture f;
  const std::string path = f.script("bad.lua", R"lua(
local function kind_of(fn)
  local ok, err = pcall(fn)
  return ok and "ok" or (err.kind .. ": " .. err.message)
end
return function(run)
  return {
    kind_of(function() run:lookup { kind = "x", limit = 0 } end),
    kind_of(function() run:lookup { kind = "x", limit = 1001 } end),
    kind_of(function() run:lookup { kind = "x", scope = "world" } end),
    kind_of(function() run:lookup { kind = "x", limt = 3 } end),
    kind_of(function() run:lookup { scope = "run" } end),
    kind_of(function() run:lookup("x") end),
    kind_of(function() run:summary("x", 1, { kee = "a" }) end),
    kind_of(function() run:summary("x", 1, { key = "" }) end),
    kind_of(function() run:summary("x", 1, { key = string.rep("k", 401) }) end),
    kind_of(function() run:lookup { kind = "x", limit = 1000 } end),
  }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-bad");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  const Json::Array& results = outcome.output.as_array();
  REQUIRE(results.size() == 10);
  for (size_t i = 0; i + 1 < results.size(); ++i) {
    INFO(results[i].as_string());
    CHECK_THAT(results[i].as_string(), Catch::StartsWith("invalid_argument: "));
  }
  CHECK_THAT(results[3].as_string(), Catch::Contains("limt"));
  CHECK_THAT(results[6].as_string(), Catch::Contains("kee"));
  CHECK(results[9].as_string() == "ok");
  CHECK(f.count("run-bad", "run_summary") == 0);
  CHECK(f.count("run-bad", "lookup_read") == 1);
}

TEST_CASE("artana.canonical_json is RFC 8785 and artana.sha256 is hex SHA-256", "[host][lookup]") {
  HostFixture f;
  const std::string path = f.script("pure.lua", R"lua(
local artana = require "artana"
return function(run)
  local ok, err = pcall(artana.canonical_json, { f = function() end })
  return {
    canonical = artana.canonical_json { b = 1, a = { 2, 1.5, "é" }, c = artana.array() },
    empty = artana.sha256(""),
    abc = artana.sha256("abc"),
    bad = err.kind,
    not_string = select(2, pcall(artana.sha256, 5)).kind,
  }
end
)lua");
  host::RunOutcome outcome = f.run(path, "run-pure");
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  CHECK(outcome.output.find("canonical")->as_string() == "{\"a\":[2,1.5,\"é\"],\"b\":1,\"c\":[]}");
  CHECK(outcome.output.find("empty")->as_string() ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(outcome.output.find("abc")->as_string() ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(outcome.output.find("bad")->as_string() == "invalid_argument");
  CHECK(outcome.output.find("not_string")->as_string() == "invalid_argument");
}

}  // namespace
}  // namespace artana::testing
