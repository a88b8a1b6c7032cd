// artana.hpp as a C++ application uses it, linked against libartana.so: RAII handles, results
// as values, lambdas as native tools and ports (answered now, later from another thread,
// dropped, or throwing), handles that outlive their host.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "artana/artana.hpp"
#include "support/temp_dir.h"

using artana::testing::TempDir;

namespace {

artana::Host open(const TempDir& dir) {
  auto host = artana::Host::create({{"data_dir", dir.str()},
                                    {"durability", "none"},
                                    {"stdlib_dir", ARTANA_SOURCE_DIR "/stdlib"}});
  INFO(host.error().message);
  REQUIRE(host.ok());
  return std::move(host).value();
}

}  // namespace

TEST_CASE("C++: a script runs to its output, and errors come back as values", "[cpp]") {
  TempDir dir;
  artana::Host host = open(dir);
  auto bad = artana::Host::create({{"colour", "red"}});
  REQUIRE(!bad.ok());
  CHECK(bad.error().code == ARTANA_E_INVALID_ARGUMENT);
  CHECK(bad.error().message.find("unknown option 'colour'") != std::string::npos);
  CHECK(host.load_memory("broken", "return (").error().code == ARTANA_E_SCRIPT);

  auto script = host.load_memory("double", "return function(run, input) return input.n * 2 end");
  REQUIRE(script.ok());
  auto run = host.start(*script, R"({"n":21})", R"({"run_id":"cpp-1"})");
  REQUIRE(run.ok());
  REQUIRE(host.run_until_idle(10000).ok());
  CHECK(run->status().value() == "completed");
  CHECK(run->output().value() == "42");
  CHECK(run->id() == "cpp-1");
  CHECK(host.open("nobody").error().code == ARTANA_E_NOT_FOUND);
}

TEST_CASE(
    "C++: lambdas answer as tools and ports, now or from another thread, and a dropped or "
    "throwing one fails its call",
    "[cpp]") {
  TempDir dir;
  artana::Host host = open(dir);
  std::vector<artana::Completion> later;
  int tool_calls = 0;
  REQUIRE(host.port("brain",
                    [&](const artana::Call& call, artana::Completion done) {
                      CHECK(call.json.find(R"("prompt":"go?")") != std::string_view::npos);
                      later.push_back(std::move(done));
                    })
              .ok());
  REQUIRE(host.tool(R"({"name":"step","args":{"type":"object"}})",
                    [&](const artana::Call&, artana::Completion done) {
                      ++tool_calls;
                      REQUIRE(done.ok(R"({"moved":true})").ok());
                      CHECK(done.ok("{}").error().code == ARTANA_E_STATE);  // once only
                    })
              .ok());
  REQUIRE(host.tool(R"({"name":"throws"})",
                    [](const artana::Call&, artana::Completion) {
                      throw std::runtime_error("the engine is busy");
                    })
              .ok());
  REQUIRE(host.tool(R"({"name":"drops"})", [](const artana::Call&, artana::Completion) {}).ok());
  auto script = host.load_memory("uses", R"(
    return function(run)
      local decision = run:model{ model = "brain", prompt = "go?" }
      local step = run:tool("step", {})
      local _, thrown = pcall(function() return run:tool("throws", {}) end)
      local _, dropped = pcall(function() return run:tool("drops", {}) end)
      return { said = decision.output, moved = step.result.moved,
               thrown = thrown.message, dropped = dropped.message }
    end)");
  REQUIRE(script.ok());
  auto run = host.start(*script);
  REQUIRE(run.ok());
  for (int i = 0; i < 20 && later.empty(); ++i) REQUIRE(host.tick(10000).ok());
  REQUIRE(later.size() == 1);
  bool answered = false;  // checked here: an assertion failing on another thread would abort
  std::thread answer([&answered, done = std::move(later[0])]() mutable {
    answered = done.ok(R"({"output":"north"})").ok();
  });
  answer.join();
  REQUIRE(answered);
  REQUIRE(host.run_until_idle(10000).ok());
  const std::string output = run->output().value();
  CHECK(output.find(R"("said":"north")") != std::string::npos);
  CHECK(output.find(R"("moved":true)") != std::string::npos);
  CHECK(output.find("the engine is busy") != std::string::npos);
  CHECK(output.find("dropped the call unfinished") != std::string::npos);
  CHECK(tool_calls == 1);
}

TEST_CASE("C++: handles that outlive their host are empty, not dangling", "[cpp]") {
  TempDir dir;
  artana::Script script;
  artana::Run run;
  {
    artana::Host host = open(dir);
    script = host.load_memory("s", "return function(run) return 1 end").value();
    run = host.start(script).value();
    REQUIRE(host.run_until_idle(10000).ok());
  }
  CHECK(script.get() == nullptr);
  CHECK(run.get() == nullptr);
  CHECK(run.status().error().code == ARTANA_E_INVALID_ARGUMENT);
}

TEST_CASE("C++: a lambda is the host's clock, and one that throws reads the system clock",
          "[cpp]") {
  TempDir dir;
  artana::Host host = open(dir);
  int64_t game_us = 2'000'000'000'000;
  REQUIRE(host.clock([&game_us] { return game_us; }).ok());
  auto script = host.load_memory("when", "return function(run) return run:now() end");
  REQUIRE(script.ok());
  auto run = host.start(*script, "{}", R"({"run_id":"when-1"})");
  REQUIRE(run.ok());
  REQUIRE(host.run_until_idle(10000).ok());
  CHECK(run->output().value() == "2000000");
  // Too late now; the error comes back as a value.
  CHECK(host.clock([]() -> int64_t { throw std::runtime_error("no clock"); }).error().code ==
        ARTANA_E_STATE);

  TempDir other;
  artana::Host fresh = open(other);
  REQUIRE(fresh.clock([]() -> int64_t { throw std::runtime_error("no clock"); }).ok());
  auto now = fresh.load_memory("now", "return function(run) return run:now() end");
  auto started = fresh.start(*now, "{}", R"({"run_id":"now-1"})");
  REQUIRE(started.ok());
  REQUIRE(fresh.run_until_idle(10000).ok());
  // The system clock's seconds since the epoch: after 2026-01-01.
  CHECK(std::stod(started->output().value()) > 1767225600.0);
}

TEST_CASE(
    "C++: lambdas are the host's log and module loader, and one that throws fails the require "
    "with its message",
    "[cpp]") {
  TempDir dir;
  artana::Host host = open(dir);
  std::vector<std::string> lines;
  REQUIRE(host.log(ARTANA_LOG_INFO,
                   [&](int level, std::string_view line) {
                     CHECK(level == ARTANA_LOG_INFO);
                     lines.emplace_back(line);
                   })
              .ok());
  CHECK(host.log(9, [](int, std::string_view) {}).error().code == ARTANA_E_INVALID_ARGUMENT);
  bool throws = false;
  REQUIRE(host.modules([&](std::string_view name) -> std::optional<std::string> {
                if (throws) throw std::runtime_error("the pak file is gone");
                if (name == "lines.hello") return std::string("return 'hello, ' ");
                return std::nullopt;
              })
              .ok());
  const char* greeter = R"lua(
    local hello = require "lines.hello"
    return function(run, input)
      print(hello .. input)
      return hello .. input
    end)lua";
  auto script = host.load_memory("greeter", greeter);
  REQUIRE(script.ok());
  auto run = host.start(*script, R"("ada")", R"({"run_id":"greet-1"})");
  REQUIRE(run.ok());
  REQUIRE(host.run_until_idle(10000).ok());
  CHECK(run->output().value() == R"("hello, ada")");
  CHECK(lines == std::vector<std::string>{"[greet-1] hello, ada"});

  throws = true;
  auto failed = host.start(*script, R"("bo")", R"({"run_id":"greet-2"})");
  REQUIRE(failed.ok());
  REQUIRE(host.run_until_idle(10000).ok());
  CHECK(failed->status().value() != "completed");
  CHECK(failed->error().value().find("the pak file is gone") != std::string::npos);
  REQUIRE(host.log(ARTANA_LOG_INFO, nullptr).ok());
  REQUIRE(host.modules(nullptr).ok());
}

TEST_CASE(
    "C++: a hot reload tells a lambda once per run, a refused one changes nothing, and a "
    "throwing one loses only its report",
    "[cpp][reload]") {
  TempDir dir;
  artana::Host host = open(dir);
  std::vector<artana::Completion> asked;
  REQUIRE(host.port("brain", [&](const artana::Call&,
                                 artana::Completion done) { asked.push_back(std::move(done)); })
              .ok());
  const std::string source = R"(
    return function(run, input)
      local a = run:model{ model = "brain", prompt = "one " .. input.i }.output
      local b = run:model{ model = "brain", prompt = "two " .. input.i }.output
      return a .. "+" .. b
    end)";
  artana::Script script = host.load_memory("twice", source).value();
  constexpr size_t kRuns = 3;
  std::vector<artana::Run> runs;
  for (size_t i = 0; i < kRuns; ++i)
    runs.push_back(host.start(script, "{\"i\":" + std::to_string(i) + "}").value());
  // Ticks until `done` (a commit may land on the store's thread between ticks): bounded in
  // time, not in ticks, which an idle host makes by the thousand a millisecond.
  auto tick_until = [&](auto done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done() && std::chrono::steady_clock::now() < give_up) {
      auto ticked = host.tick(20000);
      REQUIRE(ticked.ok());
    }
    REQUIRE(done());
  };
  tick_until([&] { return asked.size() == kRuns; });
  for (artana::Completion& done : asked) REQUIRE(done.ok(R"({"output":"a"})").ok());
  asked.clear();
  tick_until([&] { return asked.size() == kRuns; });  // each waits for its second call

  int refused_told = 0;
  auto refused =
      host.reload(script, "return (", [&](const artana::ReloadReport&) { ++refused_told; });
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == ARTANA_E_SCRIPT);
  // A script from memory is not reloaded from a file.
  CHECK(
      host.reload_file(script, [&](const artana::ReloadReport&) { ++refused_told; }).error().code ==
      ARTANA_E_INVALID_ARGUMENT);

  std::map<std::string, int> told;
  std::vector<std::string> details;
  REQUIRE(host.reload(script, source,
                      [&](const artana::ReloadReport& report) {
                        told[std::string(report.run_id)] += 1;
                        CHECK(report.outcome == ARTANA_RELOAD_CONTINUED);
                        details.emplace_back(report.detail_json);
                      })
              .ok());
  tick_until([&] { return told.size() == kRuns; });
  for (const artana::Run& run : runs) CHECK(told[run.id()] == 1);
  for (const std::string& detail : details) CHECK(detail == "{}");

  // A listener that throws: the reload goes on, and so do the runs.
  size_t thrown = 0;
  REQUIRE(host.reload(script, source,
                      [&](const artana::ReloadReport&) {
                        ++thrown;
                        throw std::runtime_error("the editor crashed");
                      })
              .ok());
  tick_until([&] { return thrown == kRuns; });
  CHECK(refused_told == 0);
  CHECK(asked.size() == kRuns);  // the calls in flight were adopted, not asked again
  for (artana::Completion& done : asked) REQUIRE(done.ok(R"({"output":"b"})").ok());
  REQUIRE(host.run_until_idle(10000).ok());
  for (const artana::Run& run : runs) {
    CHECK(run.status().value() == "completed");
    CHECK(run.output().value() == R"("a+b")");
  }
  for (const auto& [run, times] : told) CHECK(times == 1);  // told once, whatever came after
}
