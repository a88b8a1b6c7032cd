// The application's log (artana_host_set_log) and modules (artana_host_set_module_loader):
// a host's log lines reach its own function, at the level asked, and stop when it is
// removed; a module from the application's archive is required like a file's, recorded, and
// replayed — a changed archive is drift — and a module it lacks or cannot read fails the run
// with an error naming it.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "capi_support.h"

using namespace artana::capi_test;

namespace {

struct Lines {
  std::vector<std::pair<int, std::string>> heard;
  bool has(const std::string& text) const {
    for (const auto& [level, line] : heard)
      if (line.find(text) != std::string::npos) return true;
    return false;
  }
};

void hear(void* user, int level, const char* message) {
  static_cast<Lines*>(user)->heard.emplace_back(level, message);
}

const char kTalker[] = R"lua(
return function(run, input)
  print("hello from " .. input.who)
  return input.who
end
)lua";

artana_run* start(artana_host* host, artana_script* script, const std::string& input,
                  const std::string& options) {
  artana_run* run = nullptr;
  const artana_status started =
      artana_run_start(host, script, input.c_str(), options.c_str(), &run);
  INFO(artana_last_error());
  REQUIRE(started == ARTANA_OK);
  return run;
}

std::string error_of(artana_run* run) {
  char* json = nullptr;
  size_t len = 0;
  REQUIRE(artana_run_error(run, &json, &len) == ARTANA_OK);
  std::string out(json, len);
  artana_free(json);
  return out;
}

// The application's archive: module name -> source.
struct Archive {
  std::map<std::string, std::string> modules;
  std::vector<std::string> asked;
  bool broken = false;  // reading fails
};

int read_archive(void* user, const char* name, const char** src, size_t* len) {
  auto* archive = static_cast<Archive*>(user);
  archive->asked.emplace_back(name);
  if (archive->broken) {
    *src = "the archive's index is corrupt";
    return -1;
  }
  auto it = archive->modules.find(name);
  if (it == archive->modules.end()) return 0;
  *src = it->second.data();
  *len = it->second.size();
  return 1;
}

// A native tool answering at once with its arguments.
int echo_calls = 0;
void echo(void*, const artana_call* call, artana_completion done) {
  ++echo_calls;
  CHECK(artana_complete_ok(done, call->json, call->len) == ARTANA_OK);
}
const char* kWalk = R"({"name":"walk","description":"walks to x",
  "args":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]},
  "side_effect":true})";

const char kUsesRules[] = R"lua(
local rules = require "game.rules"
return function(run)
  local walked = run:tool("walk", { x = rules.start_x })
  return { x = walked.result.x, greeting = rules.greeting }
end
)lua";

std::string rules(int start_x) {
  return "return { start_x = " + std::to_string(start_x) + ", greeting = 'hail' }";
}

}  // namespace

TEST_CASE("a host's log lines reach its own log function, at the level it asked for",
          "[capi][log]") {
  TempDir dir_a, dir_b;
  artana_host* a = open_host(dir_a);
  artana_host* b = open_host(dir_b);
  Lines heard_a, heard_b;
  CHECK(artana_host_set_log(nullptr, ARTANA_LOG_INFO, hear, &heard_a) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("artana_host_set_log: host is NULL"));
  CHECK(artana_host_set_log(a, 0, hear, &heard_a) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("min_level 0"));
  CHECK(artana_host_set_log(a, ARTANA_LOG_ERROR + 1, hear, &heard_a) == ARTANA_E_INVALID_ARGUMENT);
  REQUIRE(artana_host_set_log(a, ARTANA_LOG_INFO, hear, &heard_a) == ARTANA_OK);
  REQUIRE(artana_host_set_log(b, ARTANA_LOG_INFO, hear, &heard_b) == ARTANA_OK);

  // Print lines no event callback hears are log lines: each host's reach its own function.
  artana_script* talker_a = load(a, "talker", kTalker);
  artana_script* talker_b = load(b, "talker", kTalker);
  artana_run* run_a = start(a, talker_a, R"({"who":"ada"})", R"({"run_id":"log-a"})");
  artana_run* run_b = start(b, talker_b, R"({"who":"bo"})", R"({"run_id":"log-b"})");
  run_until_idle(a);
  run_until_idle(b);
  CHECK(status_of(run_a) == "completed");
  CHECK(status_of(run_b) == "completed");
  CHECK(heard_a.has("[log-a] hello from ada"));
  CHECK(!heard_a.has("hello from bo"));
  CHECK(heard_b.has("[log-b] hello from bo"));
  CHECK(!heard_b.has("hello from ada"));
  for (const auto& [level, line] : heard_a.heard) CHECK(level == ARTANA_LOG_INFO);

  // Above the lines' level: not heard.
  REQUIRE(artana_host_set_log(a, ARTANA_LOG_WARN, hear, &heard_a) == ARTANA_OK);
  heard_a.heard.clear();
  artana_run* quiet = start(a, talker_a, R"({"who":"cy"})", R"({"run_id":"log-quiet"})");
  run_until_idle(a);
  CHECK(status_of(quiet) == "completed");
  CHECK(!heard_a.has("hello from cy"));

  // Removed: the lines go to stderr again, not to the function.
  REQUIRE(artana_host_set_log(a, ARTANA_LOG_DEBUG, nullptr, nullptr) == ARTANA_OK);
  artana_run* after = start(a, talker_a, R"({"who":"di"})", R"({"run_id":"log-after"})");
  run_until_idle(a);
  CHECK(status_of(after) == "completed");
  CHECK(heard_a.heard.empty());
  artana_host_destroy(a);
  artana_host_destroy(b);
}

TEST_CASE(
    "a module from the application's archive is required, recorded and replayed, and a "
    "changed one is drift",
    "[capi][modules]") {
  TempDir dir;
  Archive archive;
  archive.modules["game.rules"] = rules(5);
  echo_calls = 0;
  // walker-1 executed by a new host on the ledger, with the archive as it is then.
  struct Execution {
    std::string status, output, error;
  };
  auto execute = [&] {
    artana_host* host = open_host(dir);
    REQUIRE(artana_host_set_module_loader(host, read_archive, &archive) == ARTANA_OK);
    REQUIRE(artana_tool_register(host, kWalk, echo, nullptr) == ARTANA_OK);
    artana_script* script = load(host, "walker", kUsesRules);
    artana_run* run = start(host, script, "{}", R"({"run_id":"walker-1"})");
    run_until_idle(host);
    Execution done{status_of(run), output_of(run), error_of(run)};
    artana_host_destroy(host);
    return done;
  };
  CHECK(artana_host_set_module_loader(nullptr, read_archive, &archive) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("artana_host_set_module_loader: host is NULL"));

  Execution first = execute();
  INFO(first.error);
  CHECK(first.status == "completed");
  CHECK(first.output == R"({"greeting":"hail","x":5})");
  CHECK(echo_calls == 1);
  CHECK(archive.asked == std::vector<std::string>{"game.rules"});

  // Executed again with the same archive: replayed, the tool not called.
  Execution again = execute();
  CHECK(again.status == "completed");
  CHECK(again.output == R"({"greeting":"hail","x":5})");
  CHECK(echo_calls == 1);

  // The archive changed: strict replay stops at the step the new code asks differently,
  // calling nothing; the run stays completed in the ledger.
  archive.modules["game.rules"] = rules(9);
  Execution changed = execute();
  CHECK(changed.status == "completed");
  CHECK(changed.error.find("replay_drift") != std::string::npos);
  CHECK(changed.error.find("arguments changed") != std::string::npos);
  CHECK(echo_calls == 1);
}

TEST_CASE(
    "a module the application lacks or cannot read fails the run naming it, and a file "
    "script's folder is looked at after the archive",
    "[capi][modules]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  Archive archive;
  REQUIRE(artana_host_set_module_loader(host, read_archive, &archive) == ARTANA_OK);
  REQUIRE(artana_tool_register(host, kWalk, echo, nullptr) == ARTANA_OK);
  artana_script* script = load(host, "walker", kUsesRules);

  artana_run* missing = start(host, script, "{}", R"({"run_id":"missing"})");
  run_until_idle(host);
  CHECK(status_of(missing) != "completed");
  CHECK(error_of(missing).find("require 'game.rules'") != std::string::npos);
  CHECK(error_of(missing).find("module loader has none") != std::string::npos);

  archive.broken = true;
  artana_run* unreadable = start(host, script, "{}", R"({"run_id":"unreadable"})");
  run_until_idle(host);
  CHECK(status_of(unreadable) != "completed");
  CHECK(error_of(unreadable).find("the archive's index is corrupt") != std::string::npos);

  // A script from a file: the archive first (it has none by that name), then the folder.
  archive.broken = false;
  TempDir scripts;
  std::ofstream(scripts.str() + "/walker.lua") << kUsesRules;
  std::filesystem::create_directories(scripts.str() + "/game");
  std::ofstream(scripts.str() + "/game/rules.lua") << rules(3);
  artana_script* from_file = nullptr;
  REQUIRE(artana_script_load_file(host, (scripts.str() + "/walker.lua").c_str(), &from_file) ==
          ARTANA_OK);
  archive.asked.clear();
  artana_run* run = start(host, from_file, "{}", R"({"run_id":"from-folder"})");
  run_until_idle(host);
  INFO(error_of(run));
  CHECK(output_of(run) == R"({"greeting":"hail","x":3})");
  CHECK(archive.asked == std::vector<std::string>{"game.rules"});
  // The archive's module wins over the folder's.
  archive.modules["game.rules"] = rules(4);
  artana_run* archived = start(host, from_file, "{}", R"({"run_id":"from-archive"})");
  run_until_idle(host);
  CHECK(output_of(archived) == R"({"greeting":"hail","x":4})");
  artana_host_destroy(host);
}
