#include "support/run_cli.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace artana::testing {
namespace {

// Reads a pipe to its end and returns the child's exit code (128 + signal when killed).
int drain(FILE* pipe, std::string& out) {
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// `value` as one single-quoted shell word.
std::string shell_quote(const std::string& value) {
  std::string quoted = "'";
  for (char c : value) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

CliResult run_cli(const std::string& args) {
  std::string command = std::string(ARTANA_CLI) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

CliRun run_cli_env(const std::map<std::string, std::string>& env, const std::string& args) {
  char err_path[] = "/tmp/artana_cli_err_XXXXXX";
  const int fd = ::mkstemp(err_path);
  REQUIRE(fd >= 0);
  ::close(fd);
  // `exec env …` makes the CLI the process popen waits for, so a SIGKILL it sends itself
  // (fault injection) shows as a signal rather than as the shell's exit code.
  std::string command = "exec env";
  for (const auto& [name, value] : env) command += " " + name + "=" + shell_quote(value);
  command += " " + std::string(ARTANA_CLI) + " " + args + " 2>" + err_path;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  CliRun run{0, "", ""};
  run.exit_code = drain(pipe, run.out);
  std::ifstream err_file(err_path);
  std::stringstream err;
  err << err_file.rdbuf();
  run.err = err.str();
  std::filesystem::remove(err_path);
  return run;
}

}  // namespace artana::testing
