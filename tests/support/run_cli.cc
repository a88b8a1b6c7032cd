#include "support/run_cli.h"

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>

namespace artana::testing {

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

}  // namespace artana::testing
