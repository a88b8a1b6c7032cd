// `artana run --watch`: a changed script re-executes the run under the new code.
#include <catch2/catch.hpp>

#include <fstream>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST_CASE("run --watch executes the run again when the script changes", "[cli][watch]") {
  TempDir dir;
  const auto script = dir / "watched.lua";
  write(script, "return function(run) run:now(); return run:pause('first version') end\n");
  ChildProcess child({ARTANA_CLI, "--data", (dir / "ledger").string(), "run", script.string(),
                      "--run-id", "watched", "--watch"});
  CHECK(child.read_line() == "run watched: paused");
  // The new code replays now:1 and, instead of pausing, returns.
  write(script, "return function(run) run:now(); return 'second version' end\n");
  std::string line = child.read_line();
  CHECK(line == "run watched: completed");
  CHECK(child.read_line() == "output: \"second version\"");
  child.kill_hard();
}

// Reads lines until one containing `text` (or the end of output: the test then fails).
std::string read_until(ChildProcess& child, const std::string& text) {
  for (std::string line = child.read_line(); !line.empty(); line = child.read_line()) {
    if (line.find(text) != std::string::npos) return line;
  }
  FAIL("no line containing '" << text << "'");
  return {};
}

TEST_CASE("run --watch reloads a run that is busy when its script changes, in flight",
          "[cli][watch]") {
  TempDir dir;
  const auto script = dir / "busy.lua";
  // Busy for good: preempted at every tick's deadline, never paused or ended.
  write(script, "return function(run) run:now(); print('busy now'); while true do end end\n");
  // Its log (stderr, where print() goes) read with its stdout, to know when it is busy.
  ChildProcess child({"/bin/sh", "-c",
                      "exec \"$0\" --data \"$1\" run \"$2\" --run-id busy --watch 2>&1", ARTANA_CLI,
                      (dir / "ledger").string(), script.string()});
  read_until(child, "busy now");
  // The new code replays now:1 and returns: the run goes on under it, not started anew.
  write(script, "return function(run) run:now(); return 'reloaded' end\n");
  read_until(child, "the code changed: reloading run busy");
  CHECK(read_until(child, "run busy:") == "run busy: completed");
  CHECK(read_until(child, "output:") == "output: \"reloaded\"");
  child.kill_hard();
}

}  // namespace
}  // namespace artana::testing
