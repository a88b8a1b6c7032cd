// The C API (artana.h) as an application calls it: every argument checked and named, a
// script from memory or a file run to its output, replay in a new host, pause and resume,
// cancel, and the errors a script or a ledger can give.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <string>

#include "capi_support.h"

using artana::testing::TempDir;
using namespace artana::capi_test;

TEST_CASE("every function refuses a NULL argument with its code and the argument's name",
          "[capi]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  artana_script* script = load(host, "s", "return function() return 1 end");
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, nullptr, &run) == ARTANA_OK);
  artana_options* options = nullptr;
  REQUIRE(artana_options_create(&options) == ARTANA_OK);
  const char* status = nullptr;
  char* json = nullptr;
  artana_script* out_script = nullptr;
  artana_run* out_run = nullptr;
  artana_host* out_host = nullptr;

  // Each call's code, and its message naming the function and the argument.
  auto refused = [](artana_status got, const char* message) {
    INFO(message);
    CHECK(got == ARTANA_E_INVALID_ARGUMENT);
    CHECK(last_error_names(message));
  };
  refused(artana_options_create(nullptr), "artana_options_create: out is NULL");
  refused(artana_options_set(nullptr, "k", "v"), "artana_options_set: options is NULL");
  refused(artana_options_set(options, nullptr, "v"), "artana_options_set: key is NULL");
  refused(artana_options_set(options, "data_dir", nullptr), "artana_options_set: value is NULL");
  refused(artana_host_create(ARTANA_ABI_VERSION, nullptr, nullptr),
          "artana_host_create: out is NULL");
  refused(artana_host_tick(nullptr, 1000, nullptr), "artana_host_tick: host is NULL");
  refused(artana_host_tick(host, -1, nullptr), "artana_host_tick: budget_us is negative");
  refused(artana_host_run_until_idle(nullptr, 0), "artana_host_run_until_idle: host is NULL");
  refused(artana_script_load_memory(nullptr, "n", "", 0, &out_script),
          "artana_script_load_memory: host is NULL");
  refused(artana_script_load_memory(host, nullptr, "", 0, &out_script),
          "artana_script_load_memory: name is NULL");
  refused(artana_script_load_memory(host, "n", nullptr, 3, &out_script),
          "artana_script_load_memory: src is NULL");
  refused(artana_script_load_memory(host, "n", "", 0, nullptr),
          "artana_script_load_memory: out is NULL");
  refused(artana_script_load_memory(host, "has space", "", 0, &out_script),
          "artana_script_load_memory: name 'has space'");
  refused(artana_script_load_file(host, nullptr, &out_script),
          "artana_script_load_file: path is NULL");
  refused(artana_script_load_file(nullptr, "x.lua", &out_script),
          "artana_script_load_file: host is NULL");
  refused(artana_run_start(host, nullptr, nullptr, nullptr, &out_run),
          "artana_run_start: script is NULL");
  refused(artana_run_start(nullptr, script, nullptr, nullptr, &out_run),
          "artana_run_start: host is NULL");
  refused(artana_run_start(host, script, nullptr, nullptr, nullptr),
          "artana_run_start: out is NULL");
  refused(artana_run_open(host, nullptr, &out_run), "artana_run_open: run_id is NULL");
  refused(artana_run_open(nullptr, "r", &out_run), "artana_run_open: host is NULL");
  refused(artana_run_status(nullptr, &status), "artana_run_status: run is NULL");
  refused(artana_run_status(run, nullptr), "artana_run_status: status is NULL");
  refused(artana_run_output(run, nullptr, nullptr), "artana_run_output: json is NULL");
  refused(artana_run_output(nullptr, &json, nullptr), "artana_run_output: run is NULL");
  refused(artana_run_error(nullptr, &json, nullptr), "artana_run_error: run is NULL");
  refused(artana_run_error(run, nullptr, nullptr), "artana_run_error: json is NULL");
  refused(artana_run_resume(nullptr, nullptr), "artana_run_resume: run is NULL");
  refused(artana_run_cancel(nullptr, nullptr), "artana_run_cancel: run is NULL");
  CHECK(out_host == nullptr);
  CHECK(out_script == nullptr);
  CHECK(out_run == nullptr);
  CHECK(std::string(artana_run_id(nullptr)).empty());
  // A successful call clears it; the release and destroy functions take NULL.
  CHECK(artana_host_tick(host, 100, nullptr) == ARTANA_OK);
  CHECK(std::string(artana_last_error()).empty());
  artana_run_release(nullptr);
  artana_host_destroy(nullptr);
  artana_options_destroy(nullptr);
  artana_free(nullptr);
  CHECK(artana_script_unload(nullptr) == ARTANA_OK);
  artana_options_destroy(options);
  artana_host_destroy(host);  // frees the script and run handles it gave out
}

TEST_CASE("options name an unknown key or a bad value, and another ABI is refused", "[capi]") {
  artana_options* options = nullptr;
  REQUIRE(artana_options_create(&options) == ARTANA_OK);
  CHECK(artana_options_set(options, "colour", "blue") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("unknown option 'colour'"));
  CHECK(artana_options_set(options, "durability", "sometimes") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("'sometimes' is not full, effects or none"));
  CHECK(artana_options_set(options, "max_memory_mb", "-5") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("max_memory_mb"));
  CHECK(artana_options_set(options, "max_instructions", "0") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(artana_options_set(options, "threads", "many") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("'many' is not none"));
  CHECK(artana_options_set(options, "threads", "worker") == ARTANA_OK);
  CHECK(artana_options_set(options, "policy", "enforced") == ARTANA_OK);
  artana_host* host = nullptr;
  CHECK(artana_host_create(ARTANA_ABI_VERSION + 1, options, &host) == ARTANA_E_ABI);
  CHECK(last_error_names("ABI 2"));
  CHECK(host == nullptr);
  artana_options_destroy(options);
}

TEST_CASE("a ledger that cannot be opened is a storage error naming it", "[capi]") {
  TempDir dir;
  const std::string file = (dir / "not-a-dir").string();
  std::ofstream(file) << "x";
  artana_options* options = nullptr;
  REQUIRE(artana_options_create(&options) == ARTANA_OK);
  REQUIRE(artana_options_set(options, "data_dir", file.c_str()) == ARTANA_OK);
  artana_host* host = nullptr;
  const artana_status created = artana_host_create(ARTANA_ABI_VERSION, options, &host);
  artana_options_destroy(options);
  CHECK(created != ARTANA_OK);
  CHECK(host == nullptr);
  CHECK(last_error_names("not-a-dir"));
}

TEST_CASE("a script from memory runs to its output, and its run replays in a new host", "[capi]") {
  TempDir dir;
  const std::string source =
      "return function(run, input)\n"
      "  local t = run:now()\n"
      "  return { name = input.name, at = t }\n"
      "end\n";
  std::string first;
  {
    artana_host* host = open_host(dir);
    artana_script* script = load(host, "stamp", source);
    artana_run* run = nullptr;
    REQUIRE(artana_run_start(host, script, R"({"name":"ada"})", R"({"run_id":"r1"})", &run) ==
            ARTANA_OK);
    CHECK(std::string(artana_run_id(run)) == "r1");
    run_until_idle(host);
    CHECK(status_of(run) == "completed");
    first = output_of(run);
    CHECK(first.find(R"("name":"ada")") != std::string::npos);
    char* error = nullptr;
    REQUIRE(artana_run_error(run, &error, nullptr) == ARTANA_OK);
    CHECK(std::string(error) == "null");
    artana_free(error);
    artana_host_destroy(host);
  }
  {
    // A host that never executed it reads a completed run's output from the ledger.
    artana_host* host = open_host(dir);
    artana_run* opened = nullptr;
    REQUIRE(artana_run_open(host, "r1", &opened) == ARTANA_OK);
    CHECK(output_of(opened) == first);
    artana_host_destroy(host);
  }
  // A new host (a new process would do the same): the same run id executes again and
  // replays its recorded time, whatever the clock says now.
  artana_host* host = open_host(dir);
  artana_script* script = load(host, "stamp", source);
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, R"({"run_id":"r1"})", &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "completed");
  CHECK(output_of(run) == first);
  artana_run* opened = nullptr;
  REQUIRE(artana_run_open(host, "r1", &opened) == ARTANA_OK);
  CHECK(status_of(opened) == "completed");
  CHECK(artana_run_open(host, "nobody", &opened) == ARTANA_E_NOT_FOUND);
  artana_host_destroy(host);
}

TEST_CASE("a script that does not compile is refused naming name and line, and loads nothing",
          "[capi]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  artana_script* script = nullptr;
  const std::string broken = "return function(run)\n  local x = \nend\n";
  CHECK(artana_script_load_memory(host, "broken", broken.data(), broken.size(), &script) ==
        ARTANA_E_SCRIPT);
  CHECK(last_error_names("broken:3:"));
  CHECK(script == nullptr);
  artana_script* twice = load(host, "twice", "return function() end");
  CHECK(artana_script_load_memory(host, "twice", "", 0, &script) == ARTANA_E_STATE);
  CHECK(last_error_names("loaded already"));
  REQUIRE(artana_script_unload(twice) == ARTANA_OK);
  load(host, "twice", "return function() return 2 end");  // loadable again once unloaded
  artana_host_destroy(host);
}

TEST_CASE("a script from memory may require only artana modules and start no child script",
          "[capi]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  artana_script* needs_module = load(host, "needs_module", R"(
    local util = require "util"
    return function() return util end)");
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, needs_module, nullptr, nullptr, &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "failed");
  char* error = nullptr;
  REQUIRE(artana_run_error(run, &error, nullptr) == ARTANA_OK);
  CHECK(std::string(error).find("loaded from memory") != std::string::npos);
  artana_free(error);

  artana_script* stdlib = load(host, "uses_stdlib", R"(
    local harness = require "artana.harness"
    return function() return type(harness.base) end)");
  REQUIRE(artana_run_start(host, stdlib, nullptr, nullptr, &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "completed");
  CHECK(output_of(run) == R"("function")");

  artana_script* parent = load(host, "parent", R"(
    return function(run)
      local ok, err = pcall(run.child, run, "child.lua", {})
      return { ok = ok, kind = err.kind }
    end)");
  REQUIRE(artana_run_start(host, parent, nullptr, nullptr, &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "completed");
  CHECK(output_of(run) == R"({"kind":"sandbox_violation","ok":false})");
  artana_host_destroy(host);
}

TEST_CASE("a paused run goes on with the input its resume gives, and a cancelled one stops",
          "[capi]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  artana_script* script = load(host, "ask", R"(
    return function(run)
      local answer = run:pause("what now?")
      return { answer = answer }
    end)");
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, R"({"run_id":"asker"})", &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "paused");
  CHECK(artana_run_output(run, nullptr, nullptr) == ARTANA_E_INVALID_ARGUMENT);
  char* json = nullptr;
  CHECK(artana_run_output(run, &json, nullptr) == ARTANA_E_STATE);
  CHECK(last_error_names("run 'asker' is paused, not completed"));
  CHECK(artana_run_resume(run, "{not json") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("input_json"));
  REQUIRE(artana_run_resume(run, R"("go")") == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "completed");
  CHECK(output_of(run) == R"({"answer":"go"})");

  artana_run* second = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, R"({"run_id":"cancelled"})", &second) ==
          ARTANA_OK);
  run_until_idle(host);
  REQUIRE(status_of(second) == "paused");
  REQUIRE(artana_run_cancel(second, "no longer needed") == ARTANA_OK);
  CHECK(status_of(second) == "cancelled");
  artana_host_destroy(host);
}

TEST_CASE("run_start names a bad input, an unknown option and a bad run id", "[capi]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  artana_script* script = load(host, "s", "return function() return 1 end");
  artana_run* run = nullptr;
  CHECK(artana_run_start(host, script, "[1,", nullptr, &run) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("input_json"));
  CHECK(artana_run_start(host, script, nullptr, R"({"colour":"red"})", &run) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("unknown key 'colour'"));
  CHECK(artana_run_start(host, script, nullptr, R"({"replay":"sometimes"})", &run) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("options_json.replay"));
  CHECK(artana_run_start(host, script, nullptr, R"({"run_id":"has space"})", &run) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("run_id"));
  CHECK(run == nullptr);
  artana_host_destroy(host);
}

TEST_CASE("a script file runs with the modules next to it, and a missing file is not found",
          "[capi]") {
  TempDir dir;
  const std::filesystem::path scripts = dir / "scripts";
  std::filesystem::create_directories(scripts);
  std::ofstream(scripts / "util.lua") << "return { twice = function(n) return 2 * n end }\n";
  std::ofstream(scripts / "main.lua")
      << "local util = require 'util'\nreturn function(run, input) return util.twice(input.n) "
         "end\n";
  artana_host* host = open_host(dir);
  artana_script* script = nullptr;
  CHECK(artana_script_load_file(host, (scripts / "absent.lua").c_str(), &script) ==
        ARTANA_E_NOT_FOUND);
  CHECK(last_error_names("absent.lua"));
  REQUIRE(artana_script_load_file(host, (scripts / "main.lua").c_str(), &script) == ARTANA_OK);
  artana_script* twice = nullptr;
  CHECK(artana_script_load_file(host, (scripts / "main.lua").c_str(), &twice) == ARTANA_E_STATE);
  CHECK(last_error_names("is loaded already"));
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, R"({"n":21})", nullptr, &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "completed");
  CHECK(output_of(run) == "42");
  artana_host_destroy(host);
}
