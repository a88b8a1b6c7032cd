// What the CLI accepts and how it refuses: ids checked up front (usage, exit 2; an empty id
// once reached LMDB and exited 8), a missing run is exit 9 everywhere, scripts read as `lua`
// reads them (a byte order mark, a #! line), and with --json a script that does not load
// still prints the one result object naming the run.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <fstream>
#include <vector>

#include "support/child_process.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

TEST_CASE("malformed run and tenant ids are usage errors, a missing run is not_found",
          "[cli][input]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string script = (dir / "ok.lua").string();
  std::ofstream(script) << "return function(run) return 1 end\n";
  const std::string run = "--data " + data + " run " + script;
  CHECK(run_cli(run + " --run-id ''").exit_code == 2);
  CHECK(run_cli(run + " --run-id 'a b'").exit_code == 2);
  CHECK(run_cli(run + " --run-id " + std::string(201, 'x')).exit_code == 2);
  CHECK(run_cli(run + " --tenant ''").exit_code == 2);
  CHECK(run_cli(run + " --tenant 'a\"b'").exit_code == 2);
  CHECK(run_cli("--data " + data + " resume 'a b'").exit_code == 2);
  CHECK(run_cli("--data " + data + " ledger verify ''").exit_code == 2);
  REQUIRE(run_cli(run + " --run-id r1").exit_code == 0);
  CHECK(run_cli("--data " + data + " status ''").exit_code == 9);
  CHECK(run_cli("--data " + data + " cancel ''").exit_code == 9);
  CHECK(run_cli("--data " + data + " ledger verify nope").exit_code == 9);
  CHECK(run_cli("--data " + data + " ledger export nope").exit_code == 9);
  CHECK(run_cli("--data " + data + " ledger verify").exit_code == 0);
}

TEST_CASE("a script with a byte order mark or a #! line runs, its line numbers unchanged",
          "[cli][input]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string bom = (dir / "bom.lua").string();
  std::ofstream(bom) << "\xEF\xBB\xBFreturn function(run) return 'bom' end\n";
  const std::string shebang = (dir / "shebang.lua").string();
  std::ofstream(shebang) << "#!/usr/bin/env artana run\n"
                            "return function(run)\n"
                            "  error('on line 3')\n"
                            "end\n";
  CliResult ran = run_cli("--data " + data + " run " + bom + " --run-id b1");
  INFO(ran.out);
  CHECK(ran.exit_code == 0);
  CHECK(ran.out.find("\"bom\"") != std::string::npos);
  CliRun failed = run_cli_env({}, "--data " + data + " --json run " + shebang + " --run-id s1");
  INFO(failed.out << failed.err);
  CHECK(failed.exit_code == 1);
  CHECK(failed.out.find("shebang.lua:3: on line 3") != std::string::npos);
}

TEST_CASE("with --json a script that does not load prints the result object naming the run",
          "[cli][input]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string syntax = (dir / "syntax.lua").string();
  std::ofstream(syntax) << "return function(run)\n  local x = = 1\nend\n";
  CliRun out = run_cli_env({}, "--data " + data + " --json run " + syntax + " --run-id bad1");
  INFO(out.out << out.err);
  CHECK(out.exit_code == 1);
  CHECK(out.out.find("\"run_id\":\"bad1\"") != std::string::npos);
  CHECK(out.out.find("syntax.lua:2:") != std::string::npos);
  CHECK(out.out.find("\"kind\":\"script_error\"") != std::string::npos);

  const std::string binary = (dir / "chunk.luac").string();
  std::ofstream(binary) << "\x1bLua\x54" << std::string(20, '\0');
  CliRun refused = run_cli_env({}, "--data " + data + " --json run " + binary + " --run-id bin1");
  INFO(refused.out << refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.find("chunk.luac: a precompiled (binary) chunk is refused") !=
        std::string::npos);
  CHECK(refused.out.find("\"run_id\":\"bin1\"") != std::string::npos);
}

TEST_CASE("an --input nested past 1024 levels is a usage error naming the flag", "[cli][input]") {
  TempDir dir;
  const std::string script = (dir / "ok.lua").string();
  std::ofstream(script) << "return function(run, input) return 1 end\n";
  const std::string deep = std::string(1100, '[') + std::string(1100, ']');
  CliRun out = run_cli_env(
      {}, "--data " + (dir / "ledger").string() + " run " + script + " --input '" + deep + "'");
  INFO(out.err);
  CHECK(out.exit_code == 2);
  CHECK(out.err.find("--input") != std::string::npos);
  CHECK(out.err.find("1024") != std::string::npos);
}

TEST_CASE("a script's print and error text cannot forge log lines or send terminal escapes",
          "[cli][input]") {
  TempDir dir;
  const std::string script = (dir / "forge.lua").string();
  std::ofstream(script)
      << "return function(run)\n"
         "  print('hello\\n[2026-01-01 00:00:00.000] [artana] [error] forged\\27[31m')\n"
         "  error('boom\\r\\n[2026-01-01 00:00:00.000] [artana] [error] forged too')\n"
         "end\n";
  CliRun out = run_cli_env({}, "--data " + (dir / "ledger").string() + " run " + script);
  INFO(out.err);
  CHECK(out.exit_code == 1);
  CHECK(out.err.find("hello\\n[2026-01-01 00:00:00.000] [artana] [error] forged\\x1b[31m") !=
        std::string::npos);
  CHECK(out.err.find("boom\\r\\n[2026") != std::string::npos);
  CHECK(out.err.find('\x1b') == std::string::npos);
  // Every line on stderr is one the host wrote: a log line, or the run's outcome.
  size_t start = 0;
  while (start < out.err.size()) {
    const size_t end = out.err.find('\n', start);
    const std::string line = out.err.substr(start, end - start);
    INFO(line);
    CHECK((line.rfind("[20", 0) == 0 || line.rfind("error: ", 0) == 0 || line.empty()));
    CHECK(line.find("forged") == line.rfind("forged"));
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

}  // namespace
}  // namespace artana::testing

namespace artana::testing {
namespace {

TEST_CASE("two starts of one new run id at once: one runs it, the other is lease_held (exit 8)",
          "[cli][input]") {
  TempDir dir;
  const std::string data = (dir / "ledger").string();
  const std::string script = (dir / "count.lua").string();
  std::ofstream(script) << "return function(run) local n = 0 for i = 1, 2e6 do n = n + i end "
                           "return n end\n";
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::string id = "same" + std::to_string(attempt);
    const std::vector<std::string> argv = {ARTANA_CLI, "--data", data,       "--json",
                                           "run",      script,   "--run-id", id};
    ChildProcess first(argv);
    ChildProcess second(argv);
    const std::string out[2] = {first.read_line(), second.read_line()};
    const int status[2] = {first.wait(), second.wait()};
    for (int i = 0; i < 2; ++i) {
      INFO(id << " " << i << ": " << out[i]);
      REQUIRE(WIFEXITED(status[i]));
      const int code = WEXITSTATUS(status[i]);
      CHECK((code == 0 || code == 8));
      CHECK(out[i].find("\"run_id\":\"" + id + "\"") != std::string::npos);
      if (code == 8) CHECK(out[i].find("\"kind\":\"lease_held\"") != std::string::npos);
    }
    CHECK(run_cli("--data " + data + " status " + id).out.find("completed") != std::string::npos);
  }
  CHECK(run_cli("--data " + data + " ledger verify").exit_code == 0);
}

}  // namespace
}  // namespace artana::testing
