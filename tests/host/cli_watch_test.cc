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

}  // namespace
}  // namespace artana::testing
