// A run whose recorded events were edited on disk: executing it again reports the damage as
// corruption (exit 8) and never hands an edited result to the script (issue 11, item 10).
#include <catch2/catch.hpp>

#include <fstream>

#include "support/run_cli.h"
#include "support/store_fixture.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

// Changes the last byte of every copy of `needle` in `file` (stale copies of a page linger in
// free pages: changing all of them changes the live one for sure).
void edit_every_copy(const std::string& file, const std::string& needle, char replacement) {
  std::string bytes = read_file(file);
  size_t found = 0;
  for (size_t at = bytes.find(needle); at != std::string::npos; at = bytes.find(needle, at + 1)) {
    bytes[at + needle.size() - 1] = replacement;
    ++found;
  }
  REQUIRE(found > 0);
  write_file(file, bytes);
}

TEST_CASE("an edited recorded model output is reported as corruption, never replayed",
          "[cli][tamper]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string script = (dir / "echo.lua").string();
  std::ofstream(script) << R"lua(
local artana = require "artana"
artana.model_port("m", function(req) return { output = { said = "PAID-100" } } end)
return function(run)
  local answer = run:model { model = "m", prompt = "how much?" }
  print("REPLAYED " .. answer.output.said)
  return answer.output.said
end
)lua";
  const std::string run = "--data " + data + " --json run " + script + " --run-id t1";
  REQUIRE(run_cli_env({}, run).exit_code == 0);
  edit_every_copy(data + "/data.mdb", "PAID-100", '9');  // "PAID-109": still valid JSON

  CliRun again = run_cli_env({}, run);
  INFO(again.out << again.err);
  CHECK(again.exit_code == 8);
  CHECK_THAT(again.out, Catch::Contains("\"run_id\":\"t1\""));
  CHECK_THAT(again.out, Catch::Contains("altered after writing"));
  CHECK_THAT(again.out + again.err, !Catch::Contains("PAID-109"));
  CliRun verified = run_cli_env({}, "--data " + data + " ledger verify t1");
  CHECK(verified.exit_code == 10);
}

// Results past the first batch are read ahead on another thread (PayloadPrefetch): an edit
// there is caught the same way, at its step, after the steps before it replayed.
TEST_CASE("an edited output in a batch read ahead is corruption at its step", "[cli][tamper]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string script = (dir / "many.lua").string();
  std::ofstream(script) << R"lua(
local artana = require "artana"
artana.model_port("m", function(req) return { output = { said = "PAID-<" .. req.prompt .. ">" } } end)
return function(run)
  for i = 1, 300 do
    local answer = run:model { model = "m", prompt = tostring(i) }
    print("REPLAYED " .. answer.output.said)
  end
  return "done"
end
)lua";
  const std::string run = "--data " + data + " --json run " + script + " --run-id t2";
  REQUIRE(run_cli_env({}, run).exit_code == 0);
  edit_every_copy(data + "/data.mdb", "PAID-<250>", '!');

  CliRun again = run_cli_env({}, run);
  CHECK(again.exit_code == 8);
  const std::string printed = again.out + again.err;  // print() goes to the log
  CHECK_THAT(printed, Catch::Contains("REPLAYED PAID-<249>"));
  CHECK_THAT(printed, !Catch::Contains("REPLAYED PAID-<250"));
  CHECK_THAT(again.out, Catch::Contains("altered after writing"));
  CHECK_THAT(again.out, Catch::Contains("model:250"));
}

}  // namespace
}  // namespace artana::testing
